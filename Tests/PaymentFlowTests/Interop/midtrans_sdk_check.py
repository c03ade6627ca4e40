"""Drives NetLab's gateway with Midtrans' official Python SDK (midtransclient).

The gateway is pointed at through the SDK's ApiConfig base URLs, and the lab CA is trusted
through REQUESTS_CA_BUNDLE (set by the caller): TLS verification stays on. Prints one line per
check and exits non-zero if any failed.
"""
import os
import sys
import uuid

import midtransclient
from midtransclient.error_midtrans import MidtransAPIError

GATEWAY = os.environ["GATEWAY_URL"]
SERVER_KEY = os.environ["SERVER_KEY"]
CLIENT_KEY = os.environ["CLIENT_KEY"]

failures = []


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"))
    if not condition:
        failures.append(name)


def core(server_key=SERVER_KEY):
    api = midtransclient.CoreApi(is_production=False, server_key=server_key, client_key=CLIENT_KEY)
    api.api_config.CORE_SANDBOX_BASE_URL = GATEWAY  # instance attribute shadows the class one
    return api


def snap(server_key=SERVER_KEY):
    api = midtransclient.Snap(is_production=False, server_key=server_key, client_key=CLIENT_KEY)
    api.api_config.SNAP_SANDBOX_BASE_URL = GATEWAY + "/snap/v1"
    api.api_config.CORE_SANDBOX_BASE_URL = GATEWAY
    return api


def order_id(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def api_error(call):
    try:
        call()
    except MidtransAPIError as error:
        return error
    return None


api = core()

# Card: token, then charge → capture/accept.
token = api.card_token({"card_number": "5264 2210 3887 4659", "card_exp_month": "12", "card_exp_year": "2099",
                        "card_cvv": "123", "client_key": CLIENT_KEY})
check("card_token answers 200 with a token_id", token.get("status_code") == "200" and "token_id" in token, token)
card_order = order_id("sdk-card")
charged = api.charge({"payment_type": "credit_card", "transaction_details": {"order_id": card_order, "gross_amount": 12145},
                      "credit_card": {"token_id": token.get("token_id", ""), "authentication": False}})
check("card charge: 200 capture/accept", charged.get("status_code") == "200" and charged.get("transaction_status") == "capture"
      and charged.get("fraud_status") == "accept", charged)

# Pre-authorisation, then the SDK's capture.
token = api.card_token({"card_number": "4411 1111 1111 1118", "card_exp_month": "12", "card_exp_year": "2099",
                        "card_cvv": "123", "client_key": CLIENT_KEY})
held = api.charge({"payment_type": "credit_card", "transaction_details": {"order_id": order_id("sdk-auth"), "gross_amount": 30000},
                   "credit_card": {"token_id": token.get("token_id", ""), "type": "authorize"},
                   "custom_field1": "sdk", "metadata": {"source": "midtransclient"}})
check("pre-authorisation: 200 authorize, custom_field1 echoed", held.get("transaction_status") == "authorize"
      and held.get("custom_field1") == "sdk", held)
captured = api.capture({"transaction_id": held.get("transaction_id", ""), "gross_amount": 30000})
check("capture: 200 capture", captured.get("status_code") == "200" and captured.get("transaction_status") == "capture", captured)

# Bank transfer: 201 pending, status agrees.
va_order = order_id("sdk-va")
va = api.charge({"payment_type": "bank_transfer", "transaction_details": {"order_id": va_order, "gross_amount": 44145},
                 "bank_transfer": {"bank": "bca"}})
check("BCA VA charge: 201 pending with va_numbers", va.get("status_code") == "201" and va.get("va_numbers"), va)
status = api.transactions.status(va_order)
check("status of the VA order: 201 pending", status.get("status_code") == "201" and status.get("transaction_status") == "pending", status)
check("notification() confirms through GET status", api.transactions.notification({"transaction_id": va["transaction_id"]})
      .get("transaction_status") == "pending")

# gopay and qris.
for kind in ("gopay", "qris"):
    answer = api.charge({"payment_type": kind, "transaction_details": {"order_id": order_id("sdk-" + kind), "gross_amount": 20000}})
    check(f"{kind} charge: 201 pending with actions", answer.get("status_code") == "201" and answer.get("actions"), answer)

b2b = api.transactions.statusb2b(va_order)
check("status/b2b lists the order's transactions", b2b.get("status_code") == "200" and len(b2b.get("transactions", [])) == 1, b2b)

# expire → 407 without an exception.
expired = api.transactions.expire(va_order)
check("expire answers 407 without raising", expired.get("status_code") == "407", expired)

# approve / deny a transaction that is not challenged → 412.
error = api_error(lambda: api.transactions.approve(card_order))
check("approve a non-challenge: MidtransAPIError 412", error is not None and error.http_status_code == 412, error)
error = api_error(lambda: api.transactions.deny(card_order))
check("deny a non-challenge: MidtransAPIError 412", error is not None and error.http_status_code == 412, error)

# refund before settlement → 412; cancel → 200.
error = api_error(lambda: api.transactions.refund(card_order, {"refund_key": "r-1", "amount": 1000, "reason": "test"}))
check("refund before settlement: 412", error is not None and error.http_status_code == 412, error)
error = api_error(lambda: api.transactions.refundDirect(card_order, {"refund_key": "r-2", "amount": 1000, "reason": "test"}))
check("direct refund before settlement: 412", error is not None and error.http_status_code == 412, error)
cancelled = api.transactions.cancel(card_order)
check("cancel: 200 cancel", cancelled.get("status_code") == "200" and cancelled.get("transaction_status") == "cancel", cancelled)

# Errors: unknown order, bad key, bad request.
error = api_error(lambda: api.transactions.status("no-such-order-" + uuid.uuid4().hex))
check("unknown order: 404 mentioning 'exist'", error is not None and error.http_status_code == 404 and "exist" in str(error.message), error)
error = api_error(lambda: core("SB-Mid-server-wrong").transactions.status(va_order))
check("wrong server key: 401", error is not None and error.http_status_code == 401, error)
error = api_error(lambda: api.charge({"payment_type": "bank_transfer", "transaction_details": {"order_id": order_id("zero"), "gross_amount": 0},
                                      "bank_transfer": {"bank": "bca"}}))
check("gross_amount 0: 400", error is not None and error.http_status_code == 400, error)
error = api_error(lambda: api.charge(None))
check("null body: 500 'unexpected'", error is not None and error.http_status_code == 500 and "unexpected" in str(error.message).lower(), error)
error = api_error(lambda: api.charge({"payment_type": "bank_transfer", "transaction_details": {"order_id": va_order, "gross_amount": 1000},
                                      "bank_transfer": {"bank": "bca"}}))
check("a new charge on an expired order id is accepted (the id is free again)", error is None, error)

# Snap.
session = snap().create_transaction({"transaction_details": {"order_id": order_id("sdk-snap"), "gross_amount": 10000}})
check("Snap create_transaction: token and redirect_url", "token" in session and session.get("redirect_url", "").startswith(GATEWAY), session)
error = api_error(lambda: snap("SB-Mid-server-wrong").create_transaction({"transaction_details": {"order_id": "x", "gross_amount": 1}}))
check("Snap wrong key: 401 'unauthorized'", error is not None and error.http_status_code == 401 and "unauthorized" in str(error.message).lower(), error)
error = api_error(lambda: snap().create_transaction(None))
check("Snap null body: 400 'is required'", error is not None and error.http_status_code == 400 and "is required" in str(error.message), error)

session_order = order_id("sdk-snap-again")
first = snap().create_transaction_token({"transaction_details": {"order_id": session_order, "gross_amount": 10000}})
second = snap().create_transaction_redirect_url({"transaction_details": {"order_id": session_order, "gross_amount": 10000},
                                                 "enabled_payments": ["bca_va", "gopay"], "callbacks": {"finish": "https://shop.example/done"},
                                                 "credit_card": {"secure": True}})
check("Snap: an unpaid order gets another token (create_transaction_token, then _redirect_url)",
      isinstance(first, str) and isinstance(second, str) and second.startswith(GATEWAY), (first, second))

# Every Core API channel.
channels = [
    ({"payment_type": "bank_transfer", "bank_transfer": {"bank": "bni", "va_number": "12345678"}}, "va_numbers"),
    ({"payment_type": "bank_transfer", "bank_transfer": {"bank": "permata"}}, "permata_va_number"),
    ({"payment_type": "bank_transfer", "bank_transfer": {"bank": "cimb"}}, "va_numbers"),
    ({"payment_type": "echannel", "echannel": {"bill_info1": "Payment:", "bill_info2": "Online purchase"}}, "bill_key"),
    ({"payment_type": "shopeepay", "shopeepay": {"callback_url": "https://shop.example/back"}}, "actions"),
    ({"payment_type": "qris", "qris": {"acquirer": "airpay shopee"}}, "qr_string"),
    ({"payment_type": "cstore", "cstore": {"store": "indomaret", "message": "kopi"}}, "payment_code"),
    ({"payment_type": "cstore", "cstore": {"store": "alfamart"}}, "payment_code"),
    ({"payment_type": "akulaku", "item_details": [{"id": "k", "price": 20000, "quantity": 1, "name": "Kopi"}],
      "customer_details": {"first_name": "Budi", "email": "budi@example.com"}}, "redirect_url"),
    ({"payment_type": "kredivo", "item_details": [{"id": "k", "price": 20000, "quantity": 1, "name": "Kopi"}],
      "customer_details": {"first_name": "Budi", "email": "budi@example.com"}}, "redirect_url"),
]
for body, field in channels:
    body["transaction_details"] = {"order_id": order_id("sdk-" + body["payment_type"]), "gross_amount": 20000}
    answer = api.charge(body)
    check(f"{body['payment_type']} {body.get(body['payment_type'], {})}: 201 pending with {field}",
          answer.get("status_code") == "201" and answer.get("transaction_status") == "pending" and answer.get(field), answer)

# Saved cards: register, one-click charge with the saved token; point inquiry.
registered = api.card_register({"card_number": "4811 1111 1111 1114", "card_exp_month": "12", "card_exp_year": "2099",
                                "card_cvv": "123", "client_key": CLIENT_KEY})
check("card_register: 200 with saved_token_id", registered.get("status_code") == "200" and "saved_token_id" in registered, registered)
saved_token = registered.get("saved_token_id", "")
one_click = api.charge({"payment_type": "credit_card", "transaction_details": {"order_id": order_id("sdk-oneclick"), "gross_amount": 12000},
                        "credit_card": {"token_id": saved_token}})
check("one-click charge with the saved token: 200 capture/accept", one_click.get("status_code") == "200"
      and one_click.get("transaction_status") == "capture" and one_click.get("fraud_status") == "accept", one_click)
points_token = api.card_token({"card_number": "4811 1111 1111 1114", "card_exp_month": "12", "card_exp_year": "2099",
                               "card_cvv": "123", "client_key": CLIENT_KEY}).get("token_id", "")
points = api.card_point_inquiry(points_token)
check("card_point_inquiry of a BNI reward card: 200 point_balance_amount", points.get("status_code") == "200"
      and points.get("point_balance_amount"), points)
no_points = api.card_token({"card_number": "5264 2210 3887 4659", "card_exp_month": "12", "card_exp_year": "2099",
                            "card_cvv": "123", "client_key": CLIENT_KEY}).get("token_id", "")
error = api_error(lambda: api.card_point_inquiry(no_points))
check("card_point_inquiry of a card without points: 402 (as the SDK's test)", error is not None and "402" in str(error.message), error)

# Subscriptions.
subscription = api.create_subscription({
    "name": "MONTHLY_2026", "amount": "14000", "currency": "IDR", "payment_type": "credit_card", "token": saved_token,
    "schedule": {"interval": 1, "interval_unit": "day", "max_interval": 7}, "metadata": {"description": "Recurring payment for A"},
    "customer_details": {"first_name": "John", "last_name": "Doe", "email": "johndoe@email.com", "phone": "+62812345678"}})
check("create_subscription: id, status active", "id" in subscription and subscription.get("status") == "active", subscription)
subscription_id = subscription.get("id", "")
found = api.get_subscription(subscription_id)
check("get_subscription: the same id, active", found.get("id") == subscription_id and found.get("status") == "active", found)
disabled = api.disable_subscription(subscription_id)
check("disable_subscription: 'Subscription is updated.', then inactive", disabled.get("status_message") == "Subscription is updated."
      and api.get_subscription(subscription_id).get("status") == "inactive", disabled)
enabled = api.enable_subscription(subscription_id)
check("enable_subscription: 'Subscription is updated.', then active", enabled.get("status_message") == "Subscription is updated."
      and api.get_subscription(subscription_id).get("status") == "active", enabled)
updated = api.update_subscription(subscription_id, {"name": "MONTHLY_2026", "amount": "14000", "currency": "IDR", "token": saved_token,
                                                    "metadata": {"description": "update recurring payment to ABC"}})
check("update_subscription: 'Subscription is updated.', the new metadata shows",
      updated.get("status_message") == "Subscription is updated."
      and api.get_subscription(subscription_id).get("metadata", {}).get("description") == "update recurring payment to ABC", updated)
error = api_error(lambda: api.get_subscription("123"))
check("get_subscription of an unknown id: 404 \"Subscription doesn't exist.\"", error is not None and "404" in str(error.message)
      and "Subscription doesn't exist." in str(error.message), error)
error = api_error(lambda: api.create_subscription(None))
check("create_subscription(None): 400 'Bad request'", error is not None and "400" in str(error.message) and "Bad request" in str(error.message), error)
error = api_error(lambda: api.create_subscription({"name": "ZERO", "amount": "0", "currency": "IDR", "payment_type": "credit_card",
                                                   "token": saved_token, "schedule": {"interval": 1, "interval_unit": "month"}}))
check("create_subscription with amount 0: 400 with Midtrans' message", error is not None and "400" in str(error.message)
      and "subscription.amount must be between 0.01 - 99999999999.00" in str(error.message), error)

# GoPay tokenization.
partner = {"country_code": "62", "redirect_url": "https://www.gojek.com"}
linked = api.link_payment_account({"payment_type": "gopay", "gopay_partner": dict(partner, phone_number="81234567891")})
check("link_payment_account: 201 PENDING with account_id", linked.get("status_code") == "201" and linked.get("account_status") == "PENDING"
      and "account_id" in linked, linked)
account_id = linked.get("account_id", "")
got = api.get_payment_account(account_id)
check("get_payment_account: 201, the same account", got.get("status_code") == "201" and got.get("account_id") == account_id, got)
error = api_error(lambda: api.unlink_payment_account(account_id))
check("unlink a PENDING account: 412 'Account status cannot be updated.'", error is not None and "412" in str(error.message)
      and "Account status cannot be updated." in str(error.message), error)
missing = api.link_payment_account({"payment_type": "gopay", "gopay_partner": dict(partner, phone_number="123450001")})
check("link 123450001: 202 User Not Found", missing.get("status_code") == "202" and missing.get("channel_response_message") == "User Not Found", missing)
blocked = api.link_payment_account({"payment_type": "gopay", "gopay_partner": dict(partner, phone_number="123450002")})
check("link 123450002: 202 Wallet is Blocked", blocked.get("status_code") == "202" and blocked.get("channel_response_message") == "Wallet is Blocked", blocked)
error = api_error(lambda: api.link_payment_account({"payment_type": "gopay", "gopay_partner": dict(partner, phone_number="081234567891")}))
check("link 081234567891: 400, must not begin with 0", error is not None and "400" in str(error.message)
      and "gopay_partner.phone_number must be numeric digits and must not begin with 0" in str(error.message), error)

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
