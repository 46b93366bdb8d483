// Copy buttons next to the DNS records (/customer/domains).
document.addEventListener("click", function (event) {
  var button = event.target.closest(".copy-button");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.dataset.copy).then(function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  });
});
