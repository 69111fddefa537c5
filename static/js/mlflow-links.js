/* The page at a workspace's tracking URI: a link into MLflow's web UI (`…/#/experiments/3/runs/<id>`)
   carries its route after `#`, which only the browser sees; hand it to the studio, which redirects
   to its own page for the run, experiment or model. */
(function () {
  "use strict";
  const box = document.getElementById("mlflow-link");
  const route = window.location.hash.replace(/^#/, "");
  if (!box || !route || route === "/") return;
  box.querySelector("[data-testid=mlflow-opening]").hidden = false;
  window.location.replace(box.dataset.openUrl + "?path=" + encodeURIComponent(route));
})();
