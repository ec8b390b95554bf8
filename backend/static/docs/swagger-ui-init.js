// Starts Swagger UI on #swagger-ui (backend/docs/templates/docs/swagger-ui.html).
// A static file, not an inline script, so the page's CSP needs no 'unsafe-inline' script.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
    validatorUrl: null, // the default badge would call a validator on the internet
    displayRequestDuration: true,
    filter: true,
    persistAuthorization: false,
  });
});
