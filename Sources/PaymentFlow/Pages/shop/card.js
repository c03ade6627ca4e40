// The shop's own card page (NetLab), the way Midtrans' Core API card integration works:
// MidtransNew3ds.getCardToken turns the card into a token at the gateway (the shop never sees
// the number), the shop's server charges the token (POST /orders), and a card that asks for
// 3-D Secure is authenticated in a frame with MidtransNew3ds.authenticate.
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  function say(text, kind) { var m = $('message'); m.textContent = text; m.className = 'notice ' + (kind || ''); }
  var product = document.body.dataset.product;

  $('card-form').addEventListener('submit', function (event) {
    event.preventDefault();
    say('');
    var expiry = $('card-expiry').value.replace(/\s/g, '').split('/');
    if (expiry.length !== 2) { say('Expiry: month and year, such as 12/30.', 'bad'); return; }
    $('card-pay').disabled = true;
    MidtransNew3ds.getCardToken({
      // Midtrans' documentation writes the year with four digits.
      card_number: $('card-number').value.replace(/\s/g, ''), card_exp_month: expiry[0],
      card_exp_year: expiry[1].length === 2 ? '20' + expiry[1] : expiry[1], card_cvv: $('card-cvv').value
    }, {
      onSuccess: function (response) { order(response.token_id); },
      onFailure: function (response) {
        $('card-pay').disabled = false;
        say((response.validation_messages || [response.status_message]).join('; '), 'bad');
      }
    });
  });

  function order(tokenID) {
    fetch('/orders', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ product_id: product, payment: { type: 'credit_card', token_id: tokenID } })
    }).then(function (response) {
      return response.json().then(function (placed) {
        if (!response.ok || !placed.order_id) throw new Error(placed.message || placed.error || 'The shop could not place the order');
        return placed;
      });
    }).then(function (placed) {
      var orderPage = '/order/' + encodeURIComponent(placed.order_id);
      function remember(event) { try { sessionStorage.setItem('snap-callback-' + placed.order_id, event); } catch (e) {} }
      if (!placed.redirect_url) { location.href = orderPage; return; }
      $('card-form').classList.add('hidden');
      $('authenticate').classList.remove('hidden');
      MidtransNew3ds.authenticate(placed.redirect_url, {
        performAuthentication: function (url) { $('authenticate-frame').src = url; },
        onSuccess: function () { remember('onSuccess'); location.href = orderPage; },
        onPending: function () { remember('onPending'); location.href = orderPage; },
        onFailure: function (response) {
          $('authenticate').classList.add('hidden');
          say('Not paid: ' + (response.status_message || 'authentication failed'), 'bad');
          $('retry').classList.remove('hidden');   // a new order is needed: the page starts again
        }
      });
    }).catch(function (error) { $('card-pay').disabled = false; say(error.message || 'The shop did not answer. Try again.', 'bad'); });
  }
})();
