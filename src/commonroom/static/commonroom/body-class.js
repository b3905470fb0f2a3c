// Runs first in <body>'s parent: marks the page as script-capable for NHS.UK frontend components.
document.documentElement.className += " js-enabled";
document.addEventListener("DOMContentLoaded", function () {
  document.body.className += " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " nhsuk-frontend-supported" : "");
});
