// Applies the saved theme before the page paints (a classic script, so it runs first).
// The toggle itself lives in app.js. No saved choice: follow `prefers-color-scheme`.
(function () {
  try {
    var saved = localStorage.getItem('iza-theme');
    if (saved === 'dark' || saved === 'light') {
      document.documentElement.dataset.theme = saved;
    }
  } catch (e) {
    // Storage may be disabled; the system theme applies.
  }
})();
