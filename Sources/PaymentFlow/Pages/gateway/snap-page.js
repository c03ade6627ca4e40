// The payment page's script (NetLab): Snap's page, and a payment link's.
//
// It talks to two parties only: its own origin (the gateway: the charge, the status; card
// tokens and 3-D Secure through the card script, MidtransNew3ds, as a merchant's own card page
// does) and — when snap.js opened it in a frame — the one merchant page named by data-parent,
// to which it posts the results Midtrans' snap.js callbacks receive. Values come from the
// page's data- attributes; everything shown is set as text, never as HTML.
//
// One payment per page: the page is busy from the click until the gateway answers (a double
// click sends nothing twice), and follows its payment until it leaves pending, telling the
// opener once per change of outcome — success, pending or error, as Midtrans classifies them.
(function () {
  'use strict';
  var data = document.body.dataset;
  var parentOrigin = data.parent || null;
  var embedded = parentOrigin !== null && window.parent !== window;
  var sections = ['choose', 'card', 'bank', 'authenticate', 'waiting', 'done'];
  var titles = {
    credit_card: 'Credit or debit card', bca_va: 'BCA virtual account', bni_va: 'BNI virtual account',
    bri_va: 'BRI virtual account', permata_va: 'Permata virtual account', cimb_va: 'CIMB Niaga virtual account',
    echannel: 'Mandiri bill payment', gopay: 'GoPay', shopeepay: 'ShopeePay', other_qris: 'QRIS (any e-wallet)',
    indomaret: 'Indomaret', alfamart: 'Alfamart', akulaku: 'Akulaku PayLater', kredivo: 'Kredivo'
  };
  var busy = false;           // a charge is on its way
  var told = null;            // the last outcome told to the opener
  var drawn = false;          // the waiting instructions are on the page
  var orderId = null;         // the transaction's order id, once there is one
  var following = false;
  var settled = false;

  function $(id) { return document.getElementById(id); }
  function show(name) {
    sections.forEach(function (s) { $(s).classList.toggle('hidden', s !== name); });
    var heading = $(name).querySelector('h1');
    if (heading) heading.focus();
  }
  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }
  function error(text) { var e = $('error'); e.textContent = text || ''; e.classList.toggle('hidden', !text); }
  function tell(event, result) {
    if (event !== 'ready' && told === event) return;
    if (event !== 'ready') told = event;
    if (embedded) window.parent.postMessage({ source: 'netlab-snap', event: event, result: result || null }, parentOrigin);
  }
  function messages(answer) {
    if (answer && Array.isArray(answer.error_messages)) return answer.error_messages.join('; ');
    if (answer && answer.validation_messages) return answer.validation_messages.join('; ');
    return (answer && answer.status_message) || 'The payment could not be made.';
  }
  function request(url, options) {
    return fetch(url, options).then(function (response) {
      return response.json().then(function (json) { return { status: response.status, json: json }; },
                                   function () { return { status: response.status, json: {} }; });
    });
  }
  function rupiah(value) { return 'Rp ' + Number(value).toLocaleString('id-ID', { maximumFractionDigits: 0 }); }
  function setBusy(value) {
    busy = value;
    Array.prototype.forEach.call(document.querySelectorAll('main button'), function (b) { b.disabled = value; });
  }

  // The order.
  $('amount').textContent = rupiah(data.amount).replace(/^Rp /, '');
  JSON.parse(data.items || '[]').forEach(function (item) {
    $('items').appendChild(element('li', item.quantity + ' × ' + item.name + ' — ' + rupiah(item.price)));
  });
  // The time left comes from the server (a browser's clock may be wrong).
  var deadline = Date.now() + Number(data.remaining || 0);
  $('expires-at').textContent = new Date(deadline).toLocaleString();

  // The ways to pay: virtual accounts grouped under one "Bank transfer" button.
  var methods = (data.methods || '').split(',').filter(Boolean);
  var banks = methods.filter(function (m) { return /_va$/.test(m); });
  var listed = methods.filter(function (m) { return !/_va$/.test(m); });
  if (banks.length) listed.splice(Math.min(1, listed.length), 0, 'bank_transfer');
  function button(list, id, text, action) {
    var b = element('button', text);
    b.type = 'button';
    b.id = 'method-' + id;
    b.addEventListener('click', function () { if (!busy) action(); });
    var item = element('li'); item.appendChild(b); $(list).appendChild(item);
  }
  listed.forEach(function (method) {
    button('methods', method, method === 'bank_transfer' ? 'Bank transfer (virtual account)' : titles[method] || method, function () { choose(method); });
  });
  banks.forEach(function (method) {
    button('banks', method, titles[method] || method, function () {
      pay({ payment_type: 'bank_transfer', bank_transfer: { bank: method.replace(/_va$/, '') } });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('.back'), function (b) {
    b.addEventListener('click', function () { error(''); show('choose'); });
  });

  function choose(method) {
    error('');
    switch (method) {
      case 'credit_card': show('card'); $('card-number').focus(); break;
      case 'bank_transfer': show('bank'); break;
      case 'echannel': pay({ payment_type: 'echannel', echannel: { bill_info1: 'Payment for', bill_info2: 'order ' + data.orderId } }); break;
      case 'other_qris': pay({ payment_type: 'qris' }); break;
      case 'indomaret': case 'alfamart': pay({ payment_type: 'cstore', cstore: { store: method } }); break;
      default: pay({ payment_type: method });
    }
  }

  // The card: the card script tokenises it with the merchant's client key, then it is charged.
  $('card-form').addEventListener('submit', function (event) {
    event.preventDefault();
    if (busy) return;
    error('');
    var expiry = $('card-expiry').value.replace(/\s/g, '').split('/');
    if (expiry.length !== 2) { error('Expiry: month and year, such as 12/30.'); return; }
    setBusy(true);
    MidtransNew3ds.getCardToken({
      card_number: $('card-number').value.replace(/\s/g, ''), card_exp_month: expiry[0],
      card_exp_year: expiry[1].length === 2 ? '20' + expiry[1] : expiry[1], card_cvv: $('card-cvv').value
    }, {
      onSuccess: function (response) { busy = false; pay({ payment_type: 'credit_card', credit_card: { token_id: response.token_id } }); },
      onFailure: function (response) { setBusy(false); error(messages(response)); }
    });
  });

  function pay(choice) {
    if (busy && choice.payment_type !== 'credit_card') return;
    setBusy(true);
    request(data.charge, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(choice)
    }).then(function (answer) {
      setBusy(false);
      // 406: this page's payment exists already (another tab, a double click): follow it.
      if (answer.status === 406) { follow(); return; }
      if (answer.status >= 400) { error(messages(answer.json)); return; }
      orderId = answer.json.order_id;
      outcome(answer.json);
    }, function () { setBusy(false); error('The gateway did not answer. Try again.'); });
  }

  // Midtrans' classes: success (paid, or a card held for capture), pending (waiting for the
  // customer, or for the merchant's review of a challenged card), error (everything else).
  function classify(result) {
    var status = result.transaction_status;
    if (status === 'settlement' || status === 'authorize') return 'success';
    if (status === 'capture') return result.fraud_status === 'challenge' ? 'pending' : 'success';
    if (status === 'pending') return 'pending';
    return 'error';
  }

  function outcome(result) {
    if (result.payment_type === 'credit_card' && result.transaction_status === 'pending' && result.redirect_url) return authenticate(result);
    var kind = classify(result);
    if (kind === 'pending') return waiting(result);
    finish(kind, result);
  }

  // 3-D Secure: the bank's OTP page in a frame of this page, through the card script.
  function authenticate(result) {
    show('authenticate');
    MidtransNew3ds.authenticate(result.redirect_url, {
      performAuthentication: function (url) { $('authenticate-frame').src = url; },
      onSuccess: function () { follow(); }, onPending: function () { follow(); }, onFailure: function () { follow(); }
    });
  }

  function waiting(result) {
    tell('pending', result);
    show('waiting');
    if (!drawn) { drawn = true; instructions(result); }
    follow();
  }

  function instructions(result) {
    var box = $('instructions');
    box.textContent = '';
    function line(label, value) {
      box.appendChild(element('p', label));
      var code = element('p', value, 'code'); code.id = 'payment-number'; box.appendChild(code);
    }
    function link(text, url) { var p = element('p'); var a = element('a', text); a.href = url; a.rel = 'noopener'; a.target = '_blank'; p.appendChild(a); box.appendChild(p); }
    function simulator(path, text) { if (data.bank) { link(text, data.bank + path); box.lastChild.firstChild.id = 'simulator-link'; } }
    var action = function (name) { return (result.actions || []).filter(function (a) { return a.name === name; })[0]; };
    switch (result.payment_type) {
      case 'bank_transfer':
        var va = result.permata_va_number || (result.va_numbers && result.va_numbers[0] && result.va_numbers[0].va_number);
        var bank = result.permata_va_number ? 'Permata' : ((result.va_numbers && result.va_numbers[0].bank) || '').toUpperCase();
        line('Transfer ' + rupiah(data.amount) + ' to this ' + bank + ' virtual account:', va);
        box.appendChild(element('p', 'Pay it at an ATM or in mobile banking.'));
        simulator('/atm?number=' + encodeURIComponent(va), 'Open the bank simulator\u2019s ATM');
        break;
      case 'echannel':
        line('Mandiri bill: company code ' + result.biller_code + ', bill key:', result.bill_key);
        simulator('/atm?number=' + encodeURIComponent(result.bill_key), 'Open the bank simulator\u2019s ATM');
        break;
      case 'cstore':
        line('Show this payment code at the ' + (result.store === 'alfamart' ? 'Alfamart' : 'Indomaret') + ' cashier:', result.payment_code);
        simulator('/cashier?code=' + encodeURIComponent(result.payment_code), 'Open the cashier simulator');
        break;
      case 'qris': case 'gopay':
        var qr = action('generate-qr-code');
        if (qr) { var img = element('img', undefined, 'qr'); img.src = qr.url; img.alt = 'QR code to scan with an e-wallet'; img.id = 'qr-image'; box.appendChild(img); }
        box.appendChild(element('p', 'Scan it with an e-wallet app (here, the bank simulator\u2019s wallet page reads the QR text).'));
        if (result.qr_string) {
          var text = element('p', result.qr_string, 'code'); text.id = 'qr-string'; box.appendChild(text);
          simulator('/wallet?qr=' + encodeURIComponent(result.qr_string), 'Open the e-wallet simulator');
        }
        var deeplink = action('deeplink-redirect');
        if (deeplink) link('Open the GoPay app', deeplink.url);
        break;
      case 'shopeepay':
        var shopee = action('deeplink-redirect');
        if (shopee) link('Open ShopeePay to pay', shopee.url);
        break;
      case 'credit_card':
        box.appendChild(element('p', 'The merchant is reviewing this card payment.'));
        break;
      default:
        if (result.redirect_url) link('Continue to ' + (titles[result.payment_type] || result.payment_type), result.redirect_url);
    }
  }

  // Follows the payment until it leaves pending: one question at a time, every two seconds.
  function statusURL() {
    var path = data.status;
    return /\/$/.test(path) ? path + encodeURIComponent(orderId || '') : path;
  }
  function follow() {
    if (following || settled) return;
    following = true;
    request(statusURL()).then(function (answer) {
      following = false;
      if (answer.status === 404 && !orderId && data.status.slice(-1) === '/') { return later(); }
      if (answer.status !== 200) { gone(); return; }
      orderId = answer.json.order_id;
      var result = answer.json;
      if (result.payment_type === 'credit_card' && result.transaction_status === 'pending' && result.redirect_url) {
        if ($('authenticate').classList.contains('hidden')) authenticate(result);
        return later();
      }
      if (classify(result) === 'pending') { waiting(result); return later(); }
      outcome(result);
    }, function () { following = false; later(); });
  }
  function later() { if (!settled) setTimeout(follow, 2000); }

  function finish(kind, result) {
    if (settled) return;
    settled = true;
    show('done');
    var paid = kind === 'success';
    $('done-title').textContent = paid ? 'Payment successful' : 'Payment not completed';
    $('done-message').textContent = (result && result.status_message) || '';
    $('done-message').className = 'notice ' + (paid ? 'ok' : 'bad');
    tell(paid ? 'success' : 'error', result);
    var finishURL = result && result.finish_redirect_url;
    if (!embedded && finishURL) {
      var back = $('done-finish'); back.href = finishURL; back.classList.remove('hidden');
      setTimeout(function () { location.href = finishURL; }, 1500);
    }
  }

  function expired() {
    settled = true;
    show('done');
    $('done-title').textContent = 'This payment page has expired';
    $('done-message').textContent = 'Nothing was paid. Ask the shop for a new payment page.';
    $('done-message').className = 'notice bad';
    tell('error', { status_code: '407', status_message: 'Transaction is expired', transaction_status: 'expire', order_id: data.orderId });
  }

  function gone() {
    settled = true;
    show('done');
    $('done-title').textContent = 'This payment page is no longer available';
    $('done-message').textContent = 'It was replaced by a newer one, or the shop has to make a new one.';
    $('done-message').className = 'notice bad';
    tell('error', { status_code: '404', status_message: 'Snap token is not found or expired' });
  }

  // Where the page starts: a payment made already is followed (instructions drawn from its
  // first status); a page past its time, or one that is gone, says so.
  if (data.state === 'gone') gone();
  else if (data.state === 'expired') expired();
  else if (data.transaction) { orderId = null; follow(); }
  else {
    show('choose');
    var remaining = Number(data.remaining || 0);
    if (remaining > 0 && remaining < 2147483647) setTimeout(function () { if (!orderId && !settled) expired(); }, remaining);
  }
  tell('ready');
})();
