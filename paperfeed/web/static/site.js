/* paperfeed: progressive enhancements only; every page works without this file.
   - render LaTeX math ($...$, $$...$$, \(...\), \[...\]) in titles and abstracts with KaTeX;
     the server sends the text escaped, KaTeX builds its own DOM nodes from it;
   - "Copy BibTeX" buttons;
   - re-render math in content that htmx swaps in. */
(function () {
  "use strict";

  function renderMath(root) {
    if (typeof window.renderMathInElement !== "function") return;
    var nodes = (root || document).querySelectorAll(".math");
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].dataset.mathDone) continue;
      nodes[i].dataset.mathDone = "1";
      window.renderMathInElement(nodes[i], {
        delimiters: [
          { left: "$$", right: "$$", display: true },
          { left: "\\[", right: "\\]", display: true },
          { left: "$", right: "$", display: false },
          { left: "\\(", right: "\\)", display: false }
        ],
        throwOnError: false,
        trust: false,
        strict: "ignore"
      });
    }
  }

  function setUpCopyButtons() {
    var buttons = document.querySelectorAll("[data-copy]");
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      if (!navigator.clipboard) continue;
      button.hidden = false;
      button.addEventListener("click", function (event) {
        var btn = event.currentTarget;
        var source = document.getElementById(btn.dataset.copy);
        if (!source) return;
        navigator.clipboard.writeText(source.textContent).then(function () {
          var label = btn.textContent;
          btn.textContent = "Copied!";
          setTimeout(function () { btn.textContent = label; }, 1500);
        });
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    renderMath(document);
    setUpCopyButtons();
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    renderMath(event.target);
  });
})();
