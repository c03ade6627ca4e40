// The card script (NetLab's midtrans-new-3ds.min.js): what Midtrans' Core API card pages load.
//
//   <script id="midtrans-script" src="https://GATEWAY/v2/assets/js/midtrans-new-3ds.min.js"
//           data-environment="sandbox" data-client-key="SB-Mid-client-..."></script>
//
//   MidtransNew3ds.getCardToken(cardData, { onSuccess(response), onFailure(response) })
//     cardData: { card_number, card_exp_month, card_exp_year, card_cvv } or { token_id, card_cvv }
//     (a saved card). GET /v2/token over JSONP: a <script> whose answer calls back with the
//     JSON — no CORS needed; success when status_code is "200".
//   MidtransNew3ds.authenticate(redirect_url, { performAuthentication(url), onSuccess, onFailure, onPending })
//     The merchant shows url (the bank's OTP page) in a frame; the page answers by postMessage.
//     200 → onSuccess, 201 → onPending, anything else → onFailure. Messages are accepted from
//     the gateway's origin only (Midtrans' real script trusts Midtrans' origins the same way).
//   MidtransNew3ds.redirect(redirect_url, { callbackUrl })
//     The OTP page full-screen; it comes back to callbackUrl with order_id, status_code and
//     transaction_status.
(function () {
  'use strict';
  var script = document.currentScript || document.getElementById('midtrans-script');
  var gateway = new URL(script.src).origin;
  var clientKey = script.getAttribute('data-client-key');
  var sequence = 0;
  var waiting = null;  // the authentication in progress: its callbacks and transaction id

  function query(object) {
    return Object.keys(object).filter(function (k) { return object[k] !== undefined && object[k] !== null; })
      .map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(String(object[k])); }).join('&');
  }

  var api = {
    clientKey: clientKey,

    getCardToken: function (cardData, callbacks) {
      callbacks = callbacks || {};
      var name = 'callback_' + (++sequence);
      var tag = document.createElement('script');
      var settled = false;
      function done(response) {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        delete api[name];
        tag.remove();
        var handler = response && response.status_code === '200' ? callbacks.onSuccess : callbacks.onFailure;
        if (typeof handler === 'function') handler(response);
      }
      api[name] = done;
      // No answer within 30 s (a gateway down, a script blocked): a failure, not a wait for ever.
      var timer = setTimeout(function () { done({ status_code: '504', status_message: 'The gateway did not answer' }); }, 30000);
      var parameters = {
        client_key: clientKey, card_number: cardData.card_number, card_exp_month: cardData.card_exp_month,
        card_exp_year: cardData.card_exp_year, card_cvv: cardData.card_cvv, token_id: cardData.token_id,
        callback: 'MidtransNew3ds.' + name
      };
      tag.src = gateway + '/v2/token?' + query(parameters);
      tag.onerror = function () { done({ status_code: '500', status_message: 'The gateway did not answer' }); };
      document.head.appendChild(tag);
    },

    authenticate: function (redirectURL, callbacks) {
      callbacks = callbacks || {};
      // Without a frame to show it in, the page goes full-screen and comes back here.
      if (typeof callbacks.performAuthentication !== 'function') { api.redirect(redirectURL, { callbackUrl: location.href }); return; }
      // Only this transaction's page may settle this authentication (not a frame left from an earlier try).
      var match = /\/v2\/3ds\/([^/?#]+)/.exec(redirectURL);
      waiting = { callbacks: callbacks, transaction: match ? decodeURIComponent(match[1]) : null };
      callbacks.performAuthentication(redirectURL + (redirectURL.indexOf('?') < 0 ? '?' : '&') + 'origin=' + encodeURIComponent(location.origin));
    },

    redirect: function (redirectURL, options) {
      var callbackUrl = options && options.callbackUrl;
      location.href = redirectURL + (redirectURL.indexOf('?') < 0 ? '?' : '&') + query({ callback_type: 'form', callback_url: callbackUrl });
    }
  };

  window.addEventListener('message', function (event) {
    if (event.origin !== gateway || !waiting || !event.data || event.data.source !== 'netlab-3ds') return;
    if (waiting.transaction && event.data.transaction_id !== waiting.transaction) return;
    var callbacks = waiting.callbacks;
    waiting = null;
    var response = {};
    Object.keys(event.data).forEach(function (key) { if (key !== 'source') response[key] = event.data[key]; });
    var handler = response.status_code === '200' ? callbacks.onSuccess : response.status_code === '201' ? callbacks.onPending : callbacks.onFailure;
    if (typeof handler === 'function') handler(response);
  });

  window.MidtransNew3ds = api;
})();
