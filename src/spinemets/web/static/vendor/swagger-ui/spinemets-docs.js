// Starts Swagger UI on /docs from the vendored bundle (no CDN, no inline script: same CSP as
// the rest of the application).
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });
});
