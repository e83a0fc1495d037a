// Shared by every page (loaded from our own origin, so the Content-Security-Policy allows it):
// bars take their width from data-percent, since inline style attributes are not allowed.
(function () {
  function widths(root) {
    (root || document).querySelectorAll('[data-percent]').forEach(function (el) {
      el.style.width = Math.max(0, Math.min(100, Number(el.dataset.percent) || 0)) + '%';
    });
  }
  window.kariyaBars = widths;
  // A print button (data-print): no inline handler, which the policy would refuse.
  document.addEventListener('click', function (event) {
    if (event.target.closest && event.target.closest('[data-print]')) window.print();
  });
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', function () { widths(); });
  } else {
    widths();
  }
})();
