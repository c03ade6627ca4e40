// The Snap payment page's script (NetLab). It talks to two parties only: its own origin (the
// gateway: card tokens, the charge, the status) and — when snap.js opened it in a frame — the
// one merchant page named by data-parent, to which it posts the results Midtrans' snap.js
// callbacks receive. Values come from the page's data- attributes; everything shown is set as
// text, never as HTML.
(function () {
  'use strict';
  var data = document.body.dataset;
  var token = data.token;
  var parentOrigin = data.parent || null;
  var embedded = parentOrigin !== null && window.parent !== window;
  var sections = ['choose', 'card', 'bank', 'authenticate', 'waiting', 'done'];
  var titles = {
    credit_card: 'Credit or debit card', bca_va: 'BCA virtual account', bni_va: 'BNI virtual account',
    bri_va: 'BRI virtual account', permata_va: 'Permata virtual account', cimb_va: 'CIMB Niaga virtual account',
    echannel: 'Mandiri bill payment', gopay: 'GoPay', shopeepay: 'ShopeePay', other_qris: 'QRIS (any e-wallet)',
    indomaret: 'Indomaret', alfamart: 'Alfamart', akulaku: 'Akulaku PayLater', kredivo: 'Kredivo'
  };
  var polling = null;

  function $(id) { return document.getElementById(id); }
  function show(name) { sections.forEach(function (s) { $(s).classList.toggle('hidden', s !== name); }); }
  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }
  function error(text) { var e = $('error'); e.textContent = text || ''; e.classList.toggle('hidden', !text); }
  function tell(event, result) {
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

  // The order.
  $('amount').textContent = rupiah(data.amount).replace(/^Rp /, '');
  JSON.parse(data.items || '[]').forEach(function (item) {
    $('items').appendChild(element('li', item.quantity + ' × ' + item.name + ' — ' + rupiah(item.price)));
  });
  // Where the sandbox's customer pays (the bank simulator's pages), for the instructions.
  function simulator(path, text) {
    if (!data.bank) return;
    var p = element('p'); var a = element('a', text); a.href = data.bank + path; a.target = '_blank'; a.rel = 'noopener';
    a.id = 'simulator-link'; p.appendChild(a); $('instructions').appendChild(p);
  }
  var expires = Number(data.expires);
  $('expires-at').textContent = new Date(expires).toLocaleString();

  // The ways to pay: virtual accounts grouped under one "Bank transfer" button.
  var methods = (data.methods || '').split(',').filter(Boolean);
  var banks = methods.filter(function (m) { return /_va$/.test(m); });
  var listed = methods.filter(function (m) { return !/_va$/.test(m); });
  if (banks.length) listed.splice(Math.min(1, listed.length), 0, 'bank_transfer');
  listed.forEach(function (method) {
    var button = element('button', method === 'bank_transfer' ? 'Bank transfer (virtual account)' : titles[method] || method);
    button.type = 'button';
    button.id = 'method-' + method;
    button.addEventListener('click', function () { choose(method); });
    var item = element('li'); item.appendChild(button); $('methods').appendChild(item);
  });
  banks.forEach(function (method) {
    var button = element('button', titles[method] || method);
    button.type = 'button';
    button.id = 'method-' + method;
    button.addEventListener('click', function () {
      pay({ payment_type: 'bank_transfer', bank_transfer: { bank: method.replace(/_va$/, '') } });
    });
    var item = element('li'); item.appendChild(button); $('banks').appendChild(item);
  });
  Array.prototype.forEach.call(document.querySelectorAll('.back'), function (button) {
    button.addEventListener('click', function () { error(''); show('choose'); });
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

  // The card: tokenised here with the merchant's client key, then charged.
  $('card-form').addEventListener('submit', function (event) {
    event.preventDefault();
    error('');
    var expiry = $('card-expiry').value.replace(/\s/g, '').split('/');
    if (expiry.length !== 2) { error('Expiry: month and year, such as 12/30.'); return; }
    var query = ['client_key=' + encodeURIComponent(data.clientKey),
      'card_number=' + encodeURIComponent($('card-number').value.replace(/\s/g, '')),
      'card_exp_month=' + encodeURIComponent(expiry[0]), 'card_exp_year=' + encodeURIComponent(expiry[1]),
      'card_cvv=' + encodeURIComponent($('card-cvv').value)].join('&');
    $('card-pay').disabled = true;
    request('/v2/token?' + query).then(function (answer) {
      if (answer.json.status_code !== '200') { $('card-pay').disabled = false; error(messages(answer.json)); return; }
      pay({ payment_type: 'credit_card', credit_card: { token_id: answer.json.token_id } });
    }, function () { $('card-pay').disabled = false; error('The gateway did not answer. Try again.'); });
  });

  function pay(choice) {
    request('/snap/v2/transactions/' + encodeURIComponent(token) + '/charge', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(choice)
    }).then(function (answer) {
      $('card-pay').disabled = false;
      if (answer.status >= 400) { error(messages(answer.json)); if (answer.status === 406) follow(); return; }
      outcome(answer.json);
    }, function () { $('card-pay').disabled = false; error('The gateway did not answer. Try again.'); });
  }

  // What a charge (or the status) says decides the next screen.
  function outcome(result) {
    var status = result.transaction_status;
    if (result.payment_type === 'credit_card' && status === 'pending' && result.redirect_url) return authenticate(result);
    if (status === 'capture' || status === 'settlement') return finish('success', result);
    if (status === 'pending' || status === 'authorize') return waiting(result);
    finish('error', result);
  }

  // 3-D Secure: the bank's OTP page in a frame of this page; it answers by postMessage.
  function authenticate(result) {
    show('authenticate');
    $('authenticate-frame').src = result.redirect_url + '&origin=' + encodeURIComponent(location.origin);
  }
  window.addEventListener('message', function (event) {
    if (event.origin !== location.origin || !event.data || event.data.source !== 'netlab-3ds') return;
    follow();
  });

  function waiting(result) {
    tell('pending', result);
    show('waiting');
    var box = $('instructions');
    box.textContent = '';
    function line(label, value) {
      box.appendChild(element('p', label));
      var code = element('p', value, 'code'); code.id = 'payment-number'; box.appendChild(code);
    }
    function link(text, url) { var p = element('p'); var a = element('a', text); a.href = url; a.rel = 'noopener'; a.target = '_blank'; p.appendChild(a); box.appendChild(p); }
    var action = function (name) { return (result.actions || []).filter(function (a) { return a.name === name; })[0]; };
    switch (result.payment_type) {
      case 'bank_transfer':
        var va = result.permata_va_number || (result.va_numbers && result.va_numbers[0] && result.va_numbers[0].va_number);
        line('Transfer ' + rupiah(data.amount) + ' to this ' + (result.permata_va_number ? 'Permata' : (result.va_numbers[0].bank || '').toUpperCase()) + ' virtual account:', va);
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
      default:
        if (result.redirect_url) link('Continue to ' + (titles[result.payment_type] || result.payment_type), result.redirect_url);
    }
    follow();
  }

  // Follows the transaction until it leaves pending (every two seconds).
  function follow() {
    if (polling) return;
    polling = setInterval(function () {
      request('/snap/v2/transactions/' + encodeURIComponent(token) + '/status').then(function (answer) {
        if (answer.status !== 200) return;
        var status = answer.json.transaction_status;
        if (status === 'pending') { if ($('authenticate').classList.contains('hidden')) show('waiting'); return; }
        clearInterval(polling); polling = null;
        outcome(answer.json);
      });
    }, 2000);
  }

  function finish(kind, result) {
    if (polling) { clearInterval(polling); polling = null; }
    show('done');
    var paid = kind === 'success';
    $('done-title').textContent = paid ? 'Payment successful' : 'Payment not completed';
    $('done-message').textContent = (result && result.status_message) || '';
    $('done-message').className = 'notice ' + (paid ? 'ok' : 'bad');
    tell(paid ? 'success' : 'error', result);
    var finishURL = (result && result.finish_redirect_url) || (data.finish ? data.finish + (data.finish.indexOf('?') < 0 ? '?' : '&')
      + 'order_id=' + encodeURIComponent(data.orderId) + '&status_code=' + encodeURIComponent(result.status_code || '')
      + '&transaction_status=' + encodeURIComponent(result.transaction_status || '') : '');
    if (!embedded && finishURL) {
      var back = $('done-finish'); back.href = finishURL; back.classList.remove('hidden');
      setTimeout(function () { location.href = finishURL; }, 1500);
    }
  }

  // A page opened again after its payment was made follows that payment; an expired one says so.
  if (Date.now() > expires) { show('done'); $('done-title').textContent = 'This payment page has expired'; tell('error', null); }
  else if (data.transaction) { show('waiting'); follow(); }
  else show('choose');
  tell('ready');
})();
