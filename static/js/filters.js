// Progressive enhancement: apply a filter as soon as it changes (the form works without this),
// dropping empty fields so shared URLs stay short.
(function () {
  const form = document.getElementById("filters");
  if (!form) return;
  function submitClean() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (value !== "") params.append(key, value);
    }
    params.delete("page");
    window.location.assign(form.getAttribute("action") + "?" + params.toString());
  }
  form.addEventListener("change", submitClean);
  form.addEventListener("submit", function (event) { event.preventDefault(); submitClean(); });
})();
