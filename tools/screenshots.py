#!/usr/bin/env python3
"""Renders the console's main pages at 390 px (a phone) and 1366 px (a desktop) into
docs/screenshots/, signed in through the login form as the demo's county regulator and a demo
shop owner. Needs a running `yidianyima serve --demo` and Debian's chromium; Playwright from
PyPI drives it (`pip install playwright`, never `playwright install`).

    python3 tools/screenshots.py http://127.0.0.1:8080
"""
import os
import re
import sys

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
            ctx = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
            page = ctx.new_page()
            login(page, "shop-001")
            shoot(page, "merchant-own", width)
            ctx.close()
        browser.close()


if __name__ == "__main__":
    main()
