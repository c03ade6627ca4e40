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

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
