// The document editor's live preview: the text is posted to the server as it is typed (after a
// short pause) and the server's rendering (raw HTML off, the campaign's numbers filled in) shown.
(function () {
  var form = document.getElementById('editor');
  if (!form) return;
  var body = form.querySelector('textarea[name=body]');
  var out = document.getElementById('preview');
  var token = form.querySelector('input[name=csrf_token]').value;
  var timer = null;
  var sent = 0;
  function update() {
    var mine = ++sent;
    var data = new URLSearchParams();
    data.set('body', body.value);
    fetch(form.dataset.previewUrl, {
      method: 'POST', credentials: 'same-origin', body: data,
      headers: {'X-CSRF-Token': token, 'Content-Type': 'application/x-www-form-urlencoded'}
    }).then(function (r) { return r.text(); })
      .then(function (html) { if (mine === sent) out.innerHTML = html; })
      .catch(function () {});
  }
  body.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(update, 400);
  });
})();
