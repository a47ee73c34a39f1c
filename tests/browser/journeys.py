"""The console's journeys in a real browser (Debian's /usr/bin/chromium through Playwright).

Run by tests/api/browser.rs, which spawns the app, makes the users and data, passes them in
E2E_* environment variables, and checks the database afterwards. Each journey is a function;
every page visited is checked for console errors and server errors. Exits non-zero on the
first failure, with the journey, the URL and the page's text.
"""

import os
import re
import struct
import sys
import time
import traceback
import zlib
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

ENV = os.environ
BASE = ENV["E2E_BASE_URL"].rstrip("/")
REG_USER, REG_PASS = ENV["E2E_REG_USER"], ENV["E2E_REG_PASS"]
OTHER_USER, OTHER_PASS = ENV["E2E_OTHER_USER"], ENV["E2E_OTHER_PASS"]
TODAY = ENV["E2E_TODAY"]  # China's date, as the app counts it
DOWNLOADS = ENV["E2E_DOWNLOADS"]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

expect.set_options(timeout=10_000)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"  # an XLSX is a zip


class Watch:
    """Console errors, uncaught exceptions and 5xx answers of the pages of a context."""

    def __init__(self):
        self.problems = []
        # Answers a journey expects to be errors (e.g. the 404 it checks): (status, path).
        self.expected = set()

    def attach(self, page):
        page.on("console", lambda m: self._console(page, m))
        page.on("pageerror", lambda e: self.problems.append(f"{page.url}: uncaught {e}"))
        page.on("response", self._response)

    def _console(self, page, msg):
        if msg.type != "error":
            return
        text = msg.text
        # Chromium logs a document's own error status as a console error; a 404 or 422 the
        # journey asked for is not a problem (the assertions check it).
        m = re.search(r"status of (\d+)", text)
        path = urlsplit(page.url).path
        if m and (int(m.group(1)), path) in self.expected:
            return
        self.problems.append(f"{page.url}: console error: {text}")

    def _response(self, resp):
        if resp.status >= 500:
            self.problems.append(f"{resp.url}: HTTP {resp.status}")

    def check(self, where, pages):
        # Each id once per page: a label names its own field, a summary link jumps to it.
        for page in pages:
            try:
                ids = re.findall(r"""\sid=["']([^"']+)["']""", page.content())
            except PlaywrightError:
                continue
            twice = sorted({i for i in ids if ids.count(i) > 1})
            if twice:
                self.problems.append(f"{page.url}: ids used more than once: {', '.join(twice)}")
        if self.problems:
            raise AssertionError(f"{where}: " + "\n  ".join(self.problems))


def png_bytes(width, height):
    """A small opaque PNG (a gradient), made here: no imaging library needed."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 120)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def phone_context(browser, watch):
    """A shop owner's phone, signed in with "remember this device"."""
    phone = new_context(browser, watch, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    page.goto("/console/login")
    page.get_by_label("用户名", exact=True).fill(ENV["E2E_SHOP_USER"])
    page.get_by_label("密码", exact=True).fill(ENV["E2E_SHOP_PASS"])
    page.get_by_label("在此设备上保持登录").check()
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{BASE}/console/")
    return phone, page


def new_context(browser, watch, **kw):
    ctx = browser.new_context(base_url=BASE, accept_downloads=True, locale="zh-CN", **kw)
    ctx.set_default_timeout(15_000)
    ctx.on("page", watch.attach)
    return ctx


def login(ctx, username, password):
    page = ctx.new_page()
    page.goto("/console/login")
    expect(page.locator("form[action='/console/login']")).to_be_visible()
    page.get_by_label("用户名", exact=True).fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{BASE}/console/")
    expect(page.locator("header.top")).to_contain_text(username)
    return page


# create, create-without-js -------------------------------------------------------------------
def create_merchant(page, watch, uscc, bad_uscc, name):
    """Create with a wrong USCC, see the error beside the field and at the top, fix, land."""
    page.goto("/console/merchants/new")
    expect(page.get_by_role("heading", name="新建商户")).to_be_visible()
    form = page.locator("form[action='/console/merchants/new']")
    page.get_by_label("统一社会信用代码").fill(bad_uscc)
    form.locator("[name=name]").fill(name)
    page.get_by_label("类别").select_option("restaurant")
    form.locator("select[name=region_code]").select_option("513230")
    form.locator("[name=phone]").fill("0837-2822123")
    form.locator("[name=pledges]").fill("明码标价\n假一赔十")
    watch.expected.add((422, "/console/merchants/new"))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="创建商户").click()
    assert answer.value.status == 422, f"a wrong USCC answers 422, not {answer.value.status}"

    beside = page.locator("#e-uscc")
    expect(beside).to_be_visible()
    expect(beside).to_contain_text("校验位")
    field = page.locator("#f-uscc")
    expect(field).to_have_value(bad_uscc)  # the typed input kept
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", "e-uscc")
    expect(form.locator("[name=name]")).to_have_value(name)
    expect(page.get_by_label("类别")).to_have_value("restaurant")
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary.locator("a[href='#f-uscc']")).to_contain_text("校验位")
    # the summary comes before the form
    assert summary.evaluate("(s, f) => !!(s.compareDocumentPosition(f) & 4)", form.element_handle()), \
        "the error summary is above the form"
    summary.locator("a[href='#f-uscc']").click()

    field.fill(uscc)
    page.get_by_role("button", name="创建商户").click()
    expect(page).to_have_url(re.compile(r"/console/merchants/\d+(\?|$)"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator(".flash")).to_contain_text("商户已创建")
    expect(page.locator("main")).to_contain_text(uscc)
    return int(re.search(r"/console/merchants/(\d+)", page.url).group(1))


# inspection ----------------------------------------------------------------------------------
def failed_inspection(page):
    grade = page.locator("span.grade")
    expect(grade).to_have_class(re.compile(r"\bA\b"))
    section = page.locator("section#inspection")
    section.locator("summary", has_text="记录检查").click()
    form = section.locator("form")
    expect(form).to_be_visible()
    form.get_by_label("类型").select_option("routine")
    form.get_by_label("检查日期").fill(TODAY)
    form.get_by_label("执法部门").fill("红原县市场监督管理局")
    form.get_by_label("结果").select_option("fail")
    form.locator("[name=summary]").fill("冷藏柜温度超标，责令改正。")
    form.get_by_role("button", name="记录检查").click()
    expect(page).to_have_url(re.compile(r"/console/merchants/\d+"))
    expect(section.locator("tbody")).to_contain_text("冷藏柜温度超标")
    expect(grade).not_to_have_class(re.compile(r"\bA\b"))


# code+poster ---------------------------------------------------------------------------------
def issue_code_and_poster(page):
    card = page.locator("section#code")
    card.get_by_role("button", name="发放二维码").click()
    expect(card.locator("code")).to_have_text(re.compile(r"^[0-9A-Z]{12}$"))
    link = card.locator("a[href$='/poster.png']")
    with page.expect_download(timeout=30_000) as dl:
        link.click()
    path = os.path.join(DOWNLOADS, "poster.png")
    dl.value.save_as(path)
    with open(path, "rb") as f:
        head = f.read(8)
    assert head == PNG_SIGNATURE, f"the poster is a PNG, starts with {head!r}"
    assert os.path.getsize(path) > 10_000, "a whole poster"


# complaint -----------------------------------------------------------------------------------
def consumer_files_complaint(ctx, name="张三", phone="13800001111", category="price",
                             what="标价 38 元的酥油茶结账时收了 58 元，店员不肯退差价。"):
    page = ctx.new_page()
    page.goto(f"/s/{ENV['E2E_CODE']}/complaint")
    page.get_by_label("您的姓名").fill(name)
    page.get_by_label("联系电话").fill(phone)
    page.get_by_label("投诉类别").select_option(category)
    page.get_by_label("事情经过").fill(what)
    page.get_by_role("button", name="提交投诉").click()
    expect(page).to_have_url(re.compile(r"/track\?no=\d{12}&submitted=1"))
    no = re.search(r"no=(\d{12})", page.url).group(1)
    # shown for noting down as 123456-123456
    expect(page.get_by_role("status")).to_contain_text(f"{no[:6]}-{no[6:]}")
    page.close()
    return no


def regulator_accepts(page, tracking_no):
    page.goto("/console/complaints")
    shown = re.compile(f"{tracking_no[:6]}-?{tracking_no[6:]}")
    page.get_by_role("link", name=shown).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(shown)
    expect(page.locator("main")).to_contain_text("待受理")
    act = page.locator("details#act-accept")
    act.locator("summary").click()
    act.get_by_label("说明").fill("属实，予以受理，转交调解。")
    act.get_by_role("button", name="受理").click()
    expect(page).to_have_url(re.compile(r"/console/complaints/\d+"))
    expect(page.locator(".flash")).to_contain_text("已受理")
    expect(page.locator("main .badge").first).to_have_text("已受理（调解中）")
    expect(page.locator(".timeline")).to_contain_text("属实，予以受理")


# import --------------------------------------------------------------------------------------
def import_csv(page):
    usccs = ENV["E2E_IMPORT_USCCS"].split(",")
    rows = "".join(f"{u},红原县导入商户{i},餐饮,513230,13800002222\n" for i, u in enumerate(usccs))
    csv = "\ufeff统一社会信用代码,名称,类别,行政区划代码,电话\n" + rows
    page.goto("/console/imports")
    page.get_by_label("CSV 或 Excel").set_input_files(
        {"name": "shops.csv", "mimeType": "text/csv", "buffer": csv.encode("utf-8")}
    )
    page.get_by_role("button", name="上传并预检").click()
    card = page.locator("section.card", has_text="预检结果")
    expect(card).to_be_visible()
    expect(card).to_contain_text("shops.csv")
    expect(card.locator(".tile", has_text="新增")).to_contain_text(str(len(usccs)))
    card.get_by_role("button", name="确认导入").click()
    expect(page.locator(".flash")).to_contain_text("导入完成")
    expect(page.locator(".flash")).to_contain_text(f"新增 {len(usccs)}")


# stats-xlsx ----------------------------------------------------------------------------------
def stats_xlsx(page):
    page.goto("/console/stats")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    with page.expect_download() as dl:
        page.get_by_role("link", name="XLSX").click()
    path = os.path.join(DOWNLOADS, "stats.xlsx")
    dl.value.save_as(path)
    with open(path, "rb") as f:
        head = f.read(4)
    assert head == ZIP_SIGNATURE, f"an XLSX (zip), starts with {head!r}"
    assert dl.value.suggested_filename.endswith(".xlsx"), dl.value.suggested_filename


# other-county-404 ----------------------------------------------------------------------------
def other_county_gets_404(browser, watch, merchant_id):
    ctx = new_context(browser, watch)
    page = login(ctx, OTHER_USER, OTHER_PASS)
    watch.expected.add((404, f"/console/merchants/{merchant_id}"))
    answer = page.goto(f"/console/merchants/{merchant_id}")
    assert answer.status == 404, f"another county's regulator gets {answer.status}, not 404"
    expect(page.locator("main")).not_to_contain_text(ENV["E2E_USCC"])
    ctx.close()


# the merchant on a phone ------------------------------------------------------------------------
def merchant_on_a_phone(browser, watch, reg_page):
    """Log in with "remember" at 390 px, change the hours, reply to an inspection, object to a
    penalty; the regulator removes it; each seen on the public page."""
    code, shop = ENV["E2E_CODE"], ENV["E2E_SHOP_ID"]
    phone, page = phone_context(browser, watch)
    session = [c for c in phone.cookies() if c["name"] == "yidianyima_session"]
    assert session and session[0]["expires"] > time.time() + 29 * 86400, session
    # nothing wider than the phone
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"

    page.goto(f"/console/merchants/{shop}/edit")
    page.get_by_label("营业时间").fill("08:30-21:30")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash")).to_contain_text("已保存")

    page.goto("/console/")
    page.locator("#inspection summary", has_text="回应此记录").first.click()
    page.locator("#inspection textarea[name=reply]").first.fill("已当场调整温控，次日复查合格。")
    page.locator("#inspection form[action*='/replies/inspection/'] button").first.click()
    expect(page.locator(".flash")).to_contain_text("回应已提交")

    page.locator("#credit summary", has_text="对此记录提出异议").first.click()
    page.locator("#credit textarea[name=reason]").first.fill("决定书所列为隔壁商铺，非本店。")
    page.locator("#credit form[action$='/objections'] button").first.click()
    expect(page.locator(".flash")).to_contain_text("异议已提交")

    public = phone.new_page()
    public.goto(f"/s/{code}")
    expect(public.locator("body")).to_contain_text("08:30-21:30")
    expect(public.locator("body")).to_contain_text("已当场调整温控，次日复查合格。")
    expect(public.locator("body")).to_contain_text("商户已提出异议，核查中")

    reg_page.goto("/console/objections")
    card = reg_page.locator("section.card", has_text="决定书所列为隔壁商铺")
    card.get_by_label("更正记录（按下方内容修改）").check()
    card.locator("summary", has_text="更正后的记录内容").click()
    expect(card.get_by_label("决定书文号")).to_have_value("红市监罚〔2026〕21号")
    card.get_by_label("摘要").fill("未按规定明码标价（经核查更正）")
    card.locator("textarea[name=note]").fill("经核实原登记事由有误，已更正。")
    card.get_by_role("button", name="提交结论").click()
    expect(reg_page.locator(".flash")).to_contain_text("记录已更正")

    public.goto(f"/s/{code}?fresh=1")
    expect(public.locator("body")).to_contain_text("未按规定明码标价（经核查更正）")
    expect(public.locator("body")).not_to_contain_text("误登记的处罚")
    expect(public.locator("body")).not_to_contain_text("商户已提出异议，核查中")
    page.goto("/console/")
    # the shop sees the decision and why
    expect(page.locator("#rights")).to_contain_text("经核实原登记事由有误，已更正。")
    phone.close()


def storefront_photo_on_a_phone(browser, watch):
    """The owner photographs the storefront; the console shows the re-encoded photo and the
    public page shows it to consumers."""
    shop, code = ENV["E2E_SHOP_ID"], ENV["E2E_CODE"]
    phone, page = phone_context(browser, watch)
    page.goto(f"/console/merchants/{shop}#photos")
    photos = page.locator("#photos")
    photos.locator("summary", has_text="上传照片").click()
    picker = photos.locator("input[type=file][name=file]")
    assert picker.get_attribute("accept") == "image/*"
    picker.set_input_files({"name": "门头.png", "mimeType": "image/png", "buffer": png_bytes(320, 200)})
    photos.get_by_role("button", name="上传").click()
    expect(page.locator(".flash")).to_contain_text("照片已上传")
    thumb = page.locator("#photos ul.photos img").first
    expect(thumb).to_be_visible()
    src = thumb.get_attribute("src")
    assert src and src.endswith("/thumb.jpg"), src
    public = phone.new_page()
    public.goto(f"/s/{code}?fresh=1")
    expect(public.locator("img[src$='.jpg']").first).to_be_visible()
    phone.close()


def settlement_on_a_phone(browser, watch):
    """A consumer complains; the owner proposes a settlement on the phone (amount in yuan);
    the consumer accepts it on the tracking page; the owner sees the outcome."""
    consumer = new_context(browser, watch, viewport={"width": 390, "height": 844}, is_mobile=True)
    no = consumer_files_complaint(
        consumer, "李四", "13900002222", "service", "预订的包间到店后被告知没有，等了四十分钟。"
    )
    cpage = consumer.new_page()

    phone, page = phone_context(browser, watch)
    page.goto("/console/complaints")
    page.get_by_role("link", name=re.compile(f"{no[:6]}-?{no[6:]}")).click()
    main = page.locator("main")
    expect(main).to_contain_text("李*")  # the consumer's data masked for the shop
    expect(main).not_to_contain_text("13900002222")
    act = page.locator("details#act-propose")
    act.locator("summary").click()
    act.get_by_label("金额（元）").fill("50")
    act.get_by_label("说明").fill("向顾客道歉，并退还订金 50 元。")
    act.get_by_role("button", name="提出和解方案").click()
    expect(page.locator(".flash")).to_contain_text("和解方案已提交")

    cpage.goto("/track")
    cpage.get_by_label("投诉编号").fill(no)
    cpage.get_by_label("投诉时填写的电话").fill("13900002222")
    cpage.get_by_role("button", name="查询").click()
    expect(cpage.locator("main")).to_contain_text("退还订金 50 元")
    cpage.get_by_role("button", name="接受方案").click()
    expect(cpage.locator("main")).to_contain_text("已解决")

    page.reload()
    expect(page.locator("main .badge").first).to_contain_text("已解决")
    expect(page.locator(".timeline")).to_contain_text("消费者接受和解")
    consumer.close()
    phone.close()


def repair_on_a_phone(browser, watch, reg_page):
    """The owner applies for credit repair of an old penalty with a photo of the receipt; the
    regulator sees the evidence and approves; the penalty leaves the public page."""
    shop, code, rid = ENV["E2E_SHOP_ID"], ENV["E2E_CODE"], ENV["E2E_OLD_PENALTY_ID"]
    phone, page = phone_context(browser, watch)
    page.goto(f"/console/merchants/{shop}#credit")
    form = page.locator("form[action$='/credit-repairs']").filter(
        has=page.locator(f"input[name=record_id][value='{rid}']")
    )
    form.locator("xpath=..").locator("summary").click()
    form.get_by_label("修复申请说明").fill("已于当日改正标价并缴清罚款，附缴款凭证。")
    form.get_by_label("证明材料（可选）").set_input_files(
        {"name": "缴款凭证.png", "mimeType": "image/png", "buffer": png_bytes(240, 160)}
    )
    form.get_by_role("button", name="提交申请").click()
    expect(page.locator(".flash")).to_contain_text("信用修复申请已提交")

    reg_page.goto("/console/objections")
    card = reg_page.locator("section.card", has_text="已于当日改正标价")
    evidence = card.locator("a[href^='/api/v1/evidence/']")
    expect(evidence).to_contain_text("缴款凭证.jpg")
    answer = reg_page.request.get(evidence.get_attribute("href"))
    assert answer.status == 200 and answer.headers["content-type"] == "image/jpeg", answer.status
    card.get_by_label("批准修复（记录今日起撤下公示）").check()
    card.locator("textarea[name=note]").fill("已整改并履行处罚，准予修复。")
    card.get_by_role("button", name="提交结论").click()
    expect(reg_page.locator(".flash")).to_contain_text("已批准信用修复")

    public = phone.new_page()
    public.goto(f"/s/{code}?fresh=1")
    expect(public.locator("body")).not_to_contain_text("红市监罚〔2026〕5号")
    page.goto(f"/console/merchants/{shop}#credit")
    expect(page.locator("main")).to_contain_text("已批准，记录已撤下公示")
    phone.close()


def main():
    started = time.monotonic()
    failed = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        watch = Watch()
        ctx = new_context(browser, watch)
        state = {}

        def journey(name, fn, needs=()):
            """Runs `fn` unless a journey it `needs` failed; reports, never raises."""
            blocked = [n for n in needs if n in failed]
            if blocked:
                print(f"SKIP {name} (needs {', '.join(blocked)})")
                failed.append(name)
                return
            t = time.monotonic()
            try:
                fn()
                watch.check(f"journey {name}", [pg for c in browser.contexts for pg in c.pages])
                print(f"ok   {name} ({time.monotonic() - t:.1f}s)")
            except Exception:  # noqa: BLE001 - report every kind of failure the same way
                failed.append(name)
                print(f"FAIL {name}")
                traceback.print_exc()
                for pg in [pg for c in browser.contexts for pg in c.pages]:
                    try:
                        print(f"--- {pg.url}\n{pg.locator('body').inner_text()[:2000]}")
                    except PlaywrightError:
                        pass
            finally:
                watch.problems.clear()

        def log_in():
            state["reg"] = login(ctx, REG_USER, REG_PASS)

        def create():
            state["id"] = create_merchant(
                state["reg"], watch, ENV["E2E_USCC"], ENV["E2E_USCC_BAD"], "红原县格桑花藏餐馆"
            )

        def merchant_page():
            state["reg"].goto(f"/console/merchants/{state['id']}")
            return state["reg"]

        def complaint():
            consumer = new_context(browser, watch)
            no = consumer_files_complaint(consumer)
            consumer.close()
            regulator_accepts(state["reg"], no)

        def without_js():
            nojs = new_context(browser, watch, java_script_enabled=False)
            page = login(nojs, REG_USER, REG_PASS)
            create_merchant(
                page, watch, ENV["E2E_USCC_NOJS"], ENV["E2E_USCC_NOJS_BAD"], "红原县无脚本测试商店"
            )
            nojs.close()

        journey("login", log_in)
        journey("create", create, needs=["login"])
        journey("inspection", lambda: failed_inspection(merchant_page()), needs=["create"])
        journey("code+poster", lambda: issue_code_and_poster(merchant_page()), needs=["create"])
        journey("complaint", complaint, needs=["login"])
        journey("import", lambda: import_csv(state["reg"]), needs=["login"])
        journey("stats-xlsx", lambda: stats_xlsx(state["reg"]), needs=["login"])
        journey("other-county-404", lambda: other_county_gets_404(browser, watch, state["id"]), needs=["create"])
        journey("create-without-js", without_js)
        journey(
            "merchant-on-a-phone",
            lambda: merchant_on_a_phone(browser, watch, state["reg"]),
            needs=["login", "complaint"],
        )
        journey("storefront-photo-on-a-phone", lambda: storefront_photo_on_a_phone(browser, watch))
        journey("settlement-on-a-phone", lambda: settlement_on_a_phone(browser, watch))
        journey(
            "repair-on-a-phone",
            lambda: repair_on_a_phone(browser, watch, state["reg"]),
            needs=["login"],
        )
        browser.close()
    took = time.monotonic() - started
    if failed:
        print(f"FAILED ({', '.join(failed)}) in {took:.1f}s")
        return 1
    print(f"passed in {took:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
