// The API documentation page (/docs): start Swagger UI on the desk's own OpenAPI schema.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: node.getAttribute("data-openapi-url"),
    domNode: node,
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // Swagger UI would otherwise ask validator.swagger.io to check the schema.
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset].filter(Boolean),
  });
});
