// Starts ReDoc on #redoc (backend/docs/templates/docs/redoc.html).
// A static file, not an inline script, so the page's CSP needs no 'unsafe-inline' script.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var root = document.getElementById("redoc");
  Redoc.init(
    root.dataset.specUrl,
    {
      expandResponses: "200,201,202",
      requiredPropsFirst: true,
      sortPropsAlphabetically: false,
      hideDownloadButton: false,
      // The system's fonts (fonts-wqy-microhei for Chinese): none are fetched.
      theme: {
        typography: {
          fontFamily: "system-ui, 'WenQuanYi Micro Hei', sans-serif",
          headings: { fontFamily: "system-ui, 'WenQuanYi Micro Hei', sans-serif" },
        },
      },
    },
    root
  );
});
