"""Drives the payment system's pages in headless Chromium (Selenium), as a person would.

Run against `netlab serve all` (the caller starts it). The browser trusts the services'
certificate by its public key (--ignore-certificate-errors-spki-list with the SPKI hash the
caller passes): TLS is verified against that one key, nothing else is accepted. Each flow
checks what the page showed, the callbacks that fired, the gateway's status (with the server
key, as a merchant's server would), the bank's books and the shop's order.

Environment: SHOP_URL, GATEWAY_URL, BANK_URL, SERVER_KEY, SPKI, REQUESTS_CA_BUNDLE; optional
INSTRUCTOR_KEY and HOSTILE_MERCHANT (the class view's password, and a merchant id made of HTML
that must show as text), SCREENSHOTS (a folder: a PNG per step, for the docs) and FLOWS
(comma-separated names).
Prints one line per check; exits non-zero if any failed.
"""
import base64
import json
import os
import sys
import time
import traceback
import urllib.parse
import urllib.request
import ssl

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

SHOP = os.environ["SHOP_URL"]
GATEWAY = os.environ["GATEWAY_URL"]
BANK = os.environ["BANK_URL"]
SERVER_KEY = os.environ["SERVER_KEY"]
INSTRUCTOR_KEY = os.environ.get("INSTRUCTOR_KEY", "")
HOSTILE_MERCHANT = os.environ.get("HOSTILE_MERCHANT", "")
SHOTS = os.environ.get("SCREENSHOTS")
FLOWS = [f for f in os.environ.get("FLOWS", "").split(",") if f]
CONTEXT = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])

failures = []
shot_number = [0]


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"), flush=True)
    if not condition:
        failures.append(name)


def api(path, base=GATEWAY):
    """GET with the server key, as the merchant's server asks the gateway."""
    request = urllib.request.Request(base + path, headers={
        "Authorization": "Basic " + base64.b64encode((SERVER_KEY + ":").encode()).decode(), "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, context=CONTEXT, timeout=20) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read() or b"{}")


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1000",
                     "--ignore-certificate-errors-spki-list=" + os.environ["SPKI"], "--disable-gpu"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)


def shot(driver, name):
    if not SHOTS:
        return
    shot_number[0] += 1
    driver.save_screenshot(os.path.join(SHOTS, f"{shot_number[0]:02d}-{name}.png"))


def wait(driver, condition, seconds=20):
    # A page that navigates between finding an element and reading it (the wallet page reloads
    # once it is paid) leaves a stale reference: that poll saw nothing yet, the next one looks again.
    return WebDriverWait(driver, seconds, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException]).until(condition)


def visible(driver, element_id, seconds=20):
    return wait(driver, EC.visibility_of_element_located((By.ID, element_id)), seconds)


def type_into(driver, element_id, text):
    field = visible(driver, element_id)
    field.clear()
    field.send_keys(text)


def enter_card(driver, number):
    """Types a sandbox card (any future expiry, CVV 123) into the form on the current frame."""
    type_into(driver, "card-number", number)
    type_into(driver, "card-expiry", "12/30")
    type_into(driver, "card-cvv", "123")


def answer_otp(driver, frame, picture=None):
    """Types the sandbox OTP into the 3-D Secure page in `frame`, then returns to the top page."""
    wait(driver, lambda d: (frame.get_attribute("src") or "").startswith(GATEWAY + "/v2/3ds/"))
    driver.switch_to.frame(frame)
    type_into(driver, "otp", "112233")
    if picture:
        shot(driver, picture)
    visible(driver, "otp-submit").click()
    driver.switch_to.default_content()


def full_page_snap(driver, product):
    """The shop's full-page Snap (redirect mode) for one product: the page's URL."""
    driver.get(SHOP + "/")
    visible(driver, "redirect-" + product).click()
    wait(driver, lambda d: d.current_url.startswith(GATEWAY + "/snap/v2/vtweb/"))
    return driver.current_url


def pay_in_wallet(driver, qr_text, snap_page, picture=None):
    """The e-wallet simulator reads the QR text and pays; back on Snap's page, which returns to
    the shop once it sees the settlement. The order's id."""
    driver.get(BANK + "/wallet?qr=" + urllib.parse.quote(qr_text))
    if picture:
        shot(driver, picture)
    visible(driver, "pay").click()
    wait(driver, lambda d: "paid" in d.find_element(By.TAG_NAME, "body").text.lower())
    driver.get(snap_page)
    wait(driver, lambda d: "/order/" in d.current_url, 30)
    return latest_order(driver)


def order_paid(driver, order_id):
    """The shop's order page, until it says paid (the verified webhook arrived)."""
    if "/order/" not in driver.current_url:
        driver.get(SHOP + "/order/" + order_id)
    wait(driver, lambda d: d.find_element(By.ID, "status").get_attribute("data-status") in ("paid", "denied", "expired", "failed"), 30)
    return driver.find_element(By.ID, "status").get_attribute("data-status")


def latest_order(driver):
    return driver.current_url.split("/order/")[1].split("?")[0]


def snap_card(driver):
    """The Snap popup on the shop: card with 3-D Secure."""
    driver.get(SHOP + "/")
    visible(driver, "buy-kopi").click()
    frame = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#snap-midtrans iframe")))
    shot(driver, "snap-popup")
    driver.switch_to.frame(frame)
    visible(driver, "method-credit_card").click()
    enter_card(driver, "4811 1111 1111 1114")
    shot(driver, "snap-card-form")
    visible(driver, "card-pay").click()
    answer_otp(driver, wait(driver, EC.presence_of_element_located((By.ID, "authenticate-frame"))), picture="three-d-secure")
    wait(driver, lambda d: "/order/" in d.current_url, 30)
    order_id = latest_order(driver)
    status = order_paid(driver, order_id)
    shot(driver, "order-paid")
    check("Snap popup, card with 3-D Secure: the shop's order page turned paid", status == "paid", status)
    check("snap.js fired onSuccess", driver.find_element(By.ID, "callback").text == "onSuccess", driver.find_element(By.ID, "callback").text)
    truth = api(f"/v2/{order_id}/status")
    check("the gateway says capture/accept with eci 05", truth.get("transaction_status") == "capture" and truth.get("eci") == "05", truth)
    held = api(f"/references/{truth.get('transaction_id')}", base=BANK).get("held")
    check("the bank holds the money for it", held == 85000, held)


def embedded(driver):
    """snap.embed: Snap's page inside the shop's own page; a card not enrolled in 3-D Secure."""
    driver.get(SHOP + "/")
    visible(driver, "embed-kopi").click()
    frame = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#snap-container iframe")))
    driver.switch_to.frame(frame)
    visible(driver, "method-credit_card").click()
    enter_card(driver, "4411 1111 1111 1118")
    visible(driver, "card-pay").click()
    driver.switch_to.default_content()
    wait(driver, lambda d: "/order/" in d.current_url, 30)
    order_id = latest_order(driver)
    check("snap.embed: paid inside the shop's page, onSuccess fired, the order turned paid",
          order_paid(driver, order_id) == "paid" and driver.find_element(By.ID, "callback").text == "onSuccess")
    truth = api(f"/v2/{order_id}/status")
    check("an attempted authentication (eci 06): the card is not enrolled", truth.get("eci") == "06", truth)


def reload_pending(driver):
    """A customer reopens the payment page of a waiting transfer: the number is shown again."""
    full_page_snap(driver, "kopi")
    visible(driver, "method-bank_transfer").click()
    visible(driver, "method-bni_va").click()
    number = visible(driver, "payment-number").text.strip()
    driver.refresh()
    again = visible(driver, "payment-number").text.strip()
    check("reloaded while waiting, the page shows the same virtual account", again == number and number.isdigit(), (number, again))


def closed_and_declined(driver):
    """The popup closed before paying (onClose); a card the bank declines (onError)."""
    driver.get(SHOP + "/")
    visible(driver, "buy-kopi").click()
    wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#snap-midtrans iframe")))
    driver.find_element(By.CSS_SELECTOR, "#snap-midtrans button").click()
    wait(driver, lambda d: "closed the payment page" in d.find_element(By.ID, "message").text)
    check("closing the popup fired onClose, and the shop said so", not driver.find_elements(By.ID, "snap-midtrans"))
    visible(driver, "buy-kopi").click()
    frame = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#snap-midtrans iframe")))
    driver.switch_to.frame(frame)
    visible(driver, "method-credit_card").click()
    enter_card(driver, "4711 1111 1111 1115")
    visible(driver, "card-pay").click()
    visible(driver, "done-title")
    declined = driver.find_element(By.ID, "done-title").text
    driver.switch_to.default_content()
    wait(driver, lambda d: "did not go through" in d.find_element(By.ID, "message").text)
    check("a declined card: the page says so and snap.js fired onError", declined == "Payment not completed", declined)


def core_card(driver):
    """The shop's own card page: the card script, 3-D Secure in a frame."""
    driver.get(SHOP + "/card?product=kopi")
    enter_card(driver, "4811111111111114")
    shot(driver, "core-card-form")
    visible(driver, "card-pay").click()
    answer_otp(driver, visible(driver, "authenticate-frame"))
    wait(driver, lambda d: "/order/" in d.current_url, 30)
    order_id = latest_order(driver)
    check("card script: getCardToken over JSONP, authenticate in a frame; the order turned paid", order_paid(driver, order_id) == "paid")
    check("MidtransNew3ds.authenticate fired onSuccess", driver.find_element(By.ID, "callback").text == "onSuccess")
    truth = api(f"/v2/{order_id}/status")
    check("the gateway captured the Core API card charge", truth.get("transaction_status") == "capture", truth)


def redirect_va(driver):
    """Full-page Snap (redirect mode), a BCA virtual account paid at the bank's ATM page, back to the finish URL."""
    snap_page = full_page_snap(driver, "batik")
    visible(driver, "method-bank_transfer").click()
    visible(driver, "method-bca_va").click()
    number = visible(driver, "payment-number").text.strip()
    shot(driver, "snap-virtual-account")
    check("Snap shows the BCA virtual account number", number.isdigit(), number)
    before = api("/balance", base=BANK).get("received", 0)
    driver.get(BANK + "/atm?number=" + number)
    shot(driver, "bank-atm")
    visible(driver, "pay").click()
    wait(driver, lambda d: "paid" in d.find_element(By.TAG_NAME, "body").text.lower())
    shot(driver, "bank-atm-paid")
    after = api("/balance", base=BANK).get("received", 0)
    check("the bank took the money at its ATM page", after - before == 450000, (before, after))
    driver.get(snap_page)
    wait(driver, lambda d: "/order/" in d.current_url, 30)
    order_id = latest_order(driver)
    check("redirect mode returned to the finish URL with order_id, status_code and transaction_status",
          "order_id=" in driver.current_url and "transaction_status=settlement" in driver.current_url, driver.current_url)
    check("the order turned paid", order_paid(driver, order_id) == "paid")
    truth = api(f"/v2/{order_id}/status")
    check("the gateway settled the virtual account", truth.get("transaction_status") == "settlement" and truth.get("va_numbers"), truth)


def qris(driver):
    """Snap's QRIS: the QR image, the e-wallet page reads the QR text and approves."""
    snap_page = full_page_snap(driver, "kopi")
    visible(driver, "method-other_qris").click()
    image = visible(driver, "qr-image")
    wait(driver, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image))
    qr_text = visible(driver, "qr-string").text.strip()
    shot(driver, "snap-qris")
    check("Snap shows the QRIS image and its text", qr_text.startswith("000201"), qr_text)
    order_id = pay_in_wallet(driver, qr_text, snap_page, picture="bank-wallet")
    check("QRIS paid in the e-wallet page: the order turned paid", order_paid(driver, order_id) == "paid")
    truth = api(f"/v2/{order_id}/status")
    check("the gateway settled it by QRIS, on-us", truth.get("transaction_status") == "settlement" and truth.get("transaction_type") == "on-us", truth)


def cart(driver):
    """The cart: two products, one order with both as items, paid by QRIS on the full-page Snap."""
    driver.get(SHOP + "/")
    type_into(driver, "quantity-kopi", "2")
    visible(driver, "add-kopi").click()
    visible(driver, "add-batik").click()
    total = visible(driver, "cart-total").text
    shot(driver, "shop-cart")
    check("the cart adds up: 2 × 85.000 + 450.000", total.replace(".", "") == "620000", total)
    visible(driver, "cart-redirect").click()
    wait(driver, lambda d: d.current_url.startswith(GATEWAY + "/snap/v2/vtweb/"))
    items = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#items li")]
    check("Snap lists the cart's two items", len(items) == 2 and items[0].startswith("2 × Kopi"), items)
    visible(driver, "method-other_qris").click()
    qr_text = visible(driver, "qr-string").text.strip()
    order_id = pay_in_wallet(driver, qr_text, driver.current_url)
    check("the cart's order turned paid", order_paid(driver, order_id) == "paid")
    truth = api(f"/v2/{order_id}/status")
    check("the gateway settled 620.000 for it", truth.get("transaction_status") == "settlement" and truth.get("gross_amount") == "620000.00", truth)


def instructor(driver):
    """The class view behind Basic auth: every merchant listed, a merchant id made of HTML shown as
    text (never run), and the lab merchant's delivered webhooks from the flows above."""
    token = base64.b64encode(f"teacher:{INSTRUCTOR_KEY}".encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Basic " + token}})
    try:
        driver.get(GATEWAY + "/instructor")
        rows = lambda d: d.find_elements(By.CSS_SELECTOR, "#merchants tbody tr")
        wait(driver, lambda d: len(rows(d)) >= 2)
        shot(driver, "instructor")
        names = [row.find_elements(By.TAG_NAME, "td")[0].text for row in rows(driver)]
        check("the class view lists every merchant, the HTML one as its text", HOSTILE_MERCHANT in names and "G-NETLAB-01" in names, names)
        check("nothing a merchant chose became markup", not driver.find_elements(By.CSS_SELECTOR, "#merchants tbody b, #details b"))
        lab = next(row for row in rows(driver) if row.find_elements(By.TAG_NAME, "td")[0].text == "G-NETLAB-01")
        delivered = int(lab.find_elements(By.TAG_NAME, "td")[3].text)
        check("the lab merchant's webhooks show as delivered", delivered >= 1, delivered)
    finally:
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})


ALL = {"cart": cart, "snap-card": snap_card, "embedded": embedded, "reload": reload_pending, "closed-declined": closed_and_declined, "core-card": core_card, "redirect-va": redirect_va, "qris": qris, "instructor": instructor}
driver = browser()
try:
    for name, flow in ALL.items():
        if FLOWS and name not in FLOWS:
            continue
        try:
            flow(driver)
        except Exception as error:  # a flow that broke is a failed check, with what the browser saw
            check(f"flow {name} ran to the end", False, f"{error!r} at {driver.current_url}\n{traceback.format_exc()}")
            shot(driver, f"failed-{name}")
            try:
                driver.switch_to.default_content()
                for entry in driver.get_log("browser"):
                    print("  browser:", entry.get("message"))
            except Exception:
                pass
finally:
    driver.quit()
ran = [name for name in ALL if not FLOWS or name in FLOWS]
print(f"flows: {len(ran)} of {len(ALL)}")
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
