// The 3-D Secure page's script (NetLab). Without it the form posts as any form does; with it
// the OTP goes to the gateway as JSON, and the answer — the transaction as the charge API
// shows it — goes to whoever opened this page: the frame's parent (the card script or the Snap
// page, and only the origin it named), or back to the merchant's callback URL.
(function () {
  'use strict';
  var data = document.body.dataset;
  var form = document.getElementById('otp-form');
  var framed = data.parent && window.parent !== window;

  function show(text, ok) {
    var result = document.getElementById('result');
    result.textContent = text;
    result.className = 'notice ' + (ok ? 'ok' : 'bad');
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    document.getElementById('otp-submit').disabled = true;
    fetch('/v2/3ds/' + encodeURIComponent(data.id), {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_key: data.clientKey, otp: document.getElementById('otp').value })
    }).then(function (response) { return response.json(); }).then(function (answer) {
      var ok = answer.status_code === '200' || answer.status_code === '201';
      show(answer.status_message || (ok ? 'Confirmed' : 'Not confirmed'), ok);
      form.classList.add('hidden');
      var message = { source: 'netlab-3ds' };
      Object.keys(answer).forEach(function (key) { if (key !== 'signature_key') message[key] = answer[key]; });
      if (framed) { window.parent.postMessage(message, data.parent); return; }
      if (data.callback) {
        var separator = data.callback.indexOf('?') < 0 ? '?' : '&';
        location.href = data.callback + separator + 'order_id=' + encodeURIComponent(answer.order_id || '')
          + '&status_code=' + encodeURIComponent(answer.status_code || '') + '&transaction_status=' + encodeURIComponent(answer.transaction_status || '');
      }
    }, function () {
      document.getElementById('otp-submit').disabled = false;
      show('The gateway did not answer. Try again.', false);
    });
  });
})();
