// Swagger UI for /docs. Its options live here, not inline in the page, so the page's policy
// can refuse every inline script. The spec's URL comes from the script tag (root path included).
"use strict";
window.ui = SwaggerUIBundle({
  url: document.currentScript.dataset.spec,
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
});
