#!/usr/bin/env python3
"""Renders the console's main pages at 390 px (a phone) and 1366 px (a desktop) into
docs/screenshots/, signed in through the login form as the demo's county regulator and a demo
shop owner. Needs a running `yidianyima serve --demo` and Debian's chromium; Playwright from
PyPI drives it (`pip install playwright`, never `playwright install`).

    python3 tools/screenshots.py http://127.0.0.1:8080
"""
import os
import re
import struct
import sys
import zlib

from playwright.sync_api import sync_playwright

BASE = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8080"
OUT = os.path.join(os.path.dirname(__file__), "..", "docs", "screenshots")
PASSWORD = "demo-2026-yidianyima"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def login(page, username):
    page.goto(BASE + "/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def file_complaint(browser):
    """A consumer files a complaint through a demo shop's public form, so the queue has one."""
    ctx = browser.new_context(viewport={"width": 390, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    login(page, "shop-001")
    link = page.locator("a[href*='/s/']").first.get_attribute("href")
    ctx.close()
    ctx = browser.new_context(viewport={"width": 390, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    page.goto(link + "/complaint")
    page.fill("[name=name]", "王小明")
    page.fill("[name=phone]", "13900001111")
    page.select_option("[name=category]", "price")
    page.fill("[name=description]", "菜单标价 38 元，结账时收了 58 元，店员拒绝解释。")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    ctx.close()


def png_bytes(width, height):
    """A small PNG (a gradient standing in for a phone photo)."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 120)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def shop_pages(browser, width):
    """The shop owner's pages: its shop, the edit form, its complaints, its account; on the
    phone an objection with a photo as evidence is filed first (so the regulators' queue has
    one)."""
    ctx = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    login(page, "shop-001")
    if width == 390:
        form = page.locator("form[action$='/objections']").first
        if form.count():
            form.locator("xpath=..").locator("summary").click()
            form.locator("textarea[name=reason]").fill("检查当日冷柜正在除霜，温度读数不代表正常运行，附温度记录。")
            form.locator("input[type=file]").set_input_files(
                {"name": "温度记录.png", "mimeType": "image/png", "buffer": png_bytes(120, 90)})
            shoot(page, "shop-objection-form", width)
            form.locator("button[type=submit]").click()
            page.wait_for_load_state()
    page.goto(BASE + "/console/")
    shoot(page, "shop-home", width)
    edit = page.locator("a[href$='/edit']").first.get_attribute("href")
    page.goto(BASE + edit)
    shoot(page, "shop-edit", width)
    page.goto(BASE + "/console/complaints")
    shoot(page, "shop-complaints", width)
    rows = page.locator("table a[href^='/console/complaints/']")
    if rows.count():
        page.goto(BASE + rows.first.get_attribute("href"))
        page.locator("details#act-propose summary").click() if page.locator(
            "details#act-propose").count() else None
        shoot(page, "shop-complaint", width)
    page.goto(BASE + "/console/account")
    shoot(page, "shop-account", width)
    ctx.close()


def shoot(page, name, width):
    path = os.path.join(OUT, f"{name}-{width}.png")
    page.screenshot(path=path, full_page=True)
    print(path)


def main():
    os.makedirs(OUT, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=ARGS,
        )
        for width in (390, 1366):
            ctx = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
            page = ctx.new_page()
            page.goto(BASE + "/console/login")
            shoot(page, "login", width)
            if width == 390:
                file_complaint(browser)
            shop_pages(browser, width)
            login(page, "reg-513201")
            shoot(page, "home", width)
            page.goto(BASE + "/console/merchants")
            shoot(page, "merchants", width)
            first = page.locator("table a").first.get_attribute("href")
            page.goto(BASE + first)
            shoot(page, "merchant", width)
            page.goto(BASE + "/console/merchants/new")
            page.click("main button[type=submit]")
            page.wait_for_load_state()
            shoot(page, "merchant-new-errors", width)
            for name in ("complaints", "objections", "imports", "codes", "warnings", "stats", "audit",
                         "users", "account"):
                page.goto(BASE + f"/console/{name}")
                shoot(page, name, width)
            hrefs = page.goto(BASE + "/console/complaints") and page.locator(
                "table a[href^='/console/complaints/']")
            if hrefs.count():
                page.goto(BASE + hrefs.first.get_attribute("href"))
                shoot(page, "complaint", width)
            ctx.close()
            ctx = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
            page = ctx.new_page()
            login(page, "admin")
            page.goto(BASE + "/console/settings")
            shoot(page, "settings", width)
            ctx.close()
        browser.close()


if __name__ == "__main__":
    main()
