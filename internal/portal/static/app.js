// fedcred portal: progressive enhancement only. Every page works without
// this file; it adds live validation with the server's rules, the derived
// subject as it is typed, dependent fields shown only when they apply, the
// audience "Edit" switch, and copy buttons.
'use strict';

(function () {
  var live = document.getElementById('live');

  function announce(text) {
    if (!live) { return; }
    live.textContent = '';
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  function isHidden(el) {
    return el.closest('[hidden]') !== null;
  }

  // validate checks one input against the rules its data attributes carry
  // and shows the message in its error element. onSubmit also checks that
  // required fields are filled.
  function validate(input, onSubmit) {
    if (isHidden(input) || input.disabled || input.readOnly) {
      return true;
    }
    var value = input.value;
    var msg = '';
    if (value.trim() === '') {
      if (onSubmit && input.dataset.required) { msg = input.dataset.required; }
    } else if (input.dataset.noWildcard && value.indexOf('*') >= 0) {
      msg = input.dataset.noWildcard;
    } else if (input.dataset.pattern && !new RegExp(input.dataset.pattern).test(value)) {
      msg = input.dataset.patternMessage;
    }
    var err = document.getElementById(input.id + '-error');
    if (err && err.textContent !== msg) { err.textContent = msg; }
    var field = input.closest('.field');
    if (msg) {
      input.setAttribute('aria-invalid', 'true');
      if (field) { field.classList.add('has-error'); }
    } else {
      input.removeAttribute('aria-invalid');
      if (field) { field.classList.remove('has-error'); }
    }
    return msg === '';
  }

  function setUpValidation(form) {
    var inputs = form.querySelectorAll('input[data-pattern], input[data-required], input[data-no-wildcard], textarea[data-required], select[data-required]');
    inputs.forEach(function (input) {
      input.addEventListener('input', function () { validate(input, false); });
      input.addEventListener('blur', function () { validate(input, false); });
    });
    form.addEventListener('submit', function (ev) {
      if (ev.submitter && ev.submitter.name === 'edit_audience') { return; }
      var first = null;
      inputs.forEach(function (input) {
        if (!validate(input, true) && first === null) { first = input; }
      });
      if (first !== null) {
        ev.preventDefault();
        first.focus();
        announce('The form has errors. ' + (document.getElementById(first.id + '-error') || {}).textContent);
      }
    });
  }

  // Dependent fields: a select or radio with data-shows="ID" shows the
  // element ID only while it applies.
  function setUpDependents() {
    document.querySelectorAll('select[data-shows]').forEach(function (select) {
      var target = document.getElementById(select.dataset.shows);
      if (!target) { return; }
      var when = select.dataset.showsValue || '';
      var update = function () { target.hidden = select.value !== when; };
      select.addEventListener('change', update);
      update();
    });
    var radios = document.querySelectorAll('input[type=radio][data-shows]');
    var update = function () {
      radios.forEach(function (radio) {
        var target = document.getElementById(radio.dataset.shows);
        if (target) { target.hidden = !radio.checked; }
      });
    };
    radios.forEach(function (radio) { radio.addEventListener('change', update); });
    if (radios.length > 0) { update(); }
  }

  // The subject of a service account, derived as it is typed.
  function setUpSubject() {
    var out = document.getElementById('derived-subject');
    var ns = document.getElementById('namespace');
    var sa = document.getElementById('service-account');
    if (!out || !ns || !sa) { return; }
    var update = function () {
      out.value = 'system:serviceaccount:' + ns.value.trim() + ':' + sa.value.trim();
    };
    ns.addEventListener('input', update);
    sa.addEventListener('input', update);
    update();
  }

  // The audience is read-only until "Edit audience" is chosen, which shows
  // the warning.
  function setUpAudience() {
    var button = document.getElementById('edit-audience');
    var input = document.getElementById('audience');
    var warning = document.getElementById('audience-warning');
    if (!button || !input) { return; }
    button.type = 'button';
    button.addEventListener('click', function () {
      input.readOnly = false;
      if (warning) { warning.hidden = false; }
      var flag = document.createElement('input');
      flag.type = 'hidden';
      flag.name = 'audience_editable';
      flag.value = '1';
      button.form.appendChild(flag);
      button.hidden = true;
      input.focus();
      input.select();
    });
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return Promise.reject(new Error('no clipboard'));
  }

  function fallbackCopy(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    return ok;
  }

  function setUpCopy() {
    document.querySelectorAll('button[data-copy]').forEach(function (button) {
      var source = document.getElementById(button.dataset.copy);
      if (!source) { return; }
      button.hidden = false;
      button.addEventListener('click', function () {
        var label = button.getAttribute('aria-label') || 'Copy';
        var what = label.replace(/^Copy /, '');
        copyText(source.textContent.trim()).then(function () {
          announce(what + ' copied.');
          button.textContent = 'Copied';
        }, function () {
          if (fallbackCopy(source)) {
            announce(what + ' copied.');
            button.textContent = 'Copied';
          } else {
            announce(what + ' is selected: press Ctrl+C to copy it.');
          }
        });
        window.setTimeout(function () { button.textContent = 'Copy'; }, 2000);
      });
    });
  }

  document.querySelectorAll('form[data-validate]').forEach(setUpValidation);
  setUpDependents();
  setUpSubject();
  setUpAudience();
  setUpCopy();
}());
