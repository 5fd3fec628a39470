// Tessera's web pages work without this script; it only adds conveniences. Served from
// /static/ under a CSP that forbids inline script, so all behaviour is attached here.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  // <button data-copy="ID">: copies the text of element #ID (a secret shown once, say).
  for (const button of document.querySelectorAll('button[data-copy]')) {
    button.hidden = false;
    button.addEventListener('click', async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = 'Copied';
      } catch {
        // No clipboard (plain http, say): select the text so the user can copy it.
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = 'Selected: press Ctrl+C';
      }
    });
  }
  // <form data-confirm="text">: asks before submitting (the server asks again where it matters).
  for (const form of document.querySelectorAll('form[data-confirm]')) {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
});
