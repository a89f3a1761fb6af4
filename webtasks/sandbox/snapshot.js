// Compact page outline for the model; see snapshot.py. Called as page.evaluate(SNAPSHOT_JS, maxChars).
(maxChars) => {
  let counter = window.__wtRefs || 0;
  const lines = [];
  let size = 0;
  const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'SVG', 'HEAD', 'META', 'LINK', 'IFRAME']);
  const clean = (s, n) => { s = (s || '').replace(/\s+/g, ' ').trim(); return s.length > n ? s.slice(0, n) + '…' : s; };
  const ref = (el) => { if (!el.dataset.wtRef) el.dataset.wtRef = 'e' + (++counter); return el.dataset.wtRef; };
  const hidden = (el) => { const s = getComputedStyle(el); return s.display === 'none' || s.visibility === 'hidden'; };
  const name = (el) => {
    let n = el.tagName.toLowerCase();
    if (el.id) n += '#' + el.id;
    const cls = Array.from(el.classList).filter((c) => c.length < 40).slice(0, 2);
    if (cls.length) n += '.' + cls.join('.');
    return n;
  };
  const labelOf = (el) => {
    if (el.id) { const l = document.querySelector(`label[for="${CSS.escape(el.id)}"]`); if (l) return clean(l.innerText, 60); }
    const wrap = el.closest('label');
    if (wrap) return clean(Array.from(wrap.childNodes).filter((n) => n.nodeType === 3).map((n) => n.textContent).join(' '), 60);
    return el.getAttribute('aria-label') || el.getAttribute('placeholder') || '';
  };
  const emit = (depth, text) => {
    if (size > maxChars) return;
    const line = '  '.repeat(Math.min(depth, 8)) + text;
    size += line.length + 1;
    lines.push(size > maxChars ? '… (snapshot truncated)' : line);
  };
  const sig = (el) => el.tagName + '.' + Array.from(el.classList).join('.');
  const table = (el, depth) => {
    const rows = Array.from(el.querySelectorAll('tr'));
    const cells = (r) => Array.from(r.cells).map((c) => clean(c.innerText, 40)).join(' | ');
    emit(depth, `${name(el)} (${rows.length} rows)`);
    rows.slice(0, 4).forEach((r) => {
      const links = Array.from(r.querySelectorAll('a[href]')).map((a) => `[${ref(a)}] ${a.getAttribute('href')}`);
      emit(depth + 1, (r.querySelector('th') ? 'header: ' : 'row: ') + cells(r) + (links.length ? '  links: ' + links.join(' ') : ''));
    });
    if (rows.length > 4) emit(depth + 1, `… ${rows.length - 4} more rows`);
  };
  const walk = (el, depth) => {
    if (size > maxChars || SKIP.has(el.tagName) || hidden(el)) return;
    const tag = el.tagName;
    if (tag === 'TABLE') return table(el, depth);
    if (/^H[1-6]$/.test(tag)) {
      const a = el.querySelector('a[href]');
      return emit(depth, `${tag.toLowerCase()} "${clean(el.innerText, 120)}"` +
        (a ? `  link [${ref(a)}] href=${a.getAttribute('href')}` : ''));
    }
    if (tag === 'DL') {
      emit(depth, name(el));
      Array.from(el.querySelectorAll('dt')).slice(0, 20).forEach((dt) => {
        const dd = dt.nextElementSibling;
        emit(depth + 1, `${clean(dt.innerText, 40)}: ${dd ? clean(dd.innerText, 100) : ''}`);
      });
      return;
    }
    if (tag === 'A' && el.hasAttribute('href')) {
      return emit(depth, `[${ref(el)}] link "${clean(el.innerText, 80)}" href=${el.getAttribute('href')}` +
        (el.hasAttribute('download') ? ' download' : '') + (el.rel ? ` rel=${el.rel}` : ''));
    }
    if (tag === 'BUTTON' || (tag === 'INPUT' && ['submit', 'button'].includes(el.type))) {
      return emit(depth, `[${ref(el)}] button "${clean(el.innerText || el.value, 60)}"` + (el.disabled ? ' disabled' : ''));
    }
    if (tag === 'INPUT' || tag === 'TEXTAREA') {
      const checked = ['checkbox', 'radio'].includes(el.type) ? ` checked=${el.checked}` : ` value="${clean(el.value, 60)}"`;
      return emit(depth, `[${ref(el)}] ${tag.toLowerCase()}[type=${el.type || 'text'} name=${el.name}] label="${labelOf(el)}"${checked}` +
        (el.required ? ' required' : ''));
    }
    if (tag === 'SELECT') {
      const options = Array.from(el.options).slice(0, 12).map((o) => o.value + (o.selected ? '*' : '')).join(',');
      return emit(depth, `[${ref(el)}] select[name=${el.name}] label="${labelOf(el)}" options=${options}`);
    }
    if (tag === 'LABEL' && !el.querySelector('input,select,textarea')) return;
    if (tag === 'FORM') emit(depth, `form${el.id ? '#' + el.id : ''} method=${el.method} action=${el.getAttribute('action') || ''}`);
    const children = Array.from(el.children);
    const own = Array.from(el.childNodes).filter((n) => n.nodeType === 3).map((n) => n.textContent).join(' ');
    if (clean(own, 200)) emit(depth, `text "${clean(own, 200)}"`);
    if (!children.length) return;
    const marked = tag !== 'FORM' && (el.id || el.classList.length) && tag !== 'BODY';
    if (marked) emit(depth, name(el));
    const inner = marked || tag === 'FORM' ? depth + 1 : depth;
    let i = 0;
    while (i < children.length) {
      let j = i + 1;
      while (j < children.length && sig(children[j]) === sig(children[i])) j++;
      const run = j - i;
      const shown = run > 4 ? 3 : run;
      for (let k = i; k < i + shown; k++) walk(children[k], inner);
      if (run > shown) emit(inner, `… ${run - shown} more ${name(children[i])}`);
      i = j;
    }
  };
  walk(document.body || document.documentElement, 0);
  window.__wtRefs = counter;
  return lines.join('\n');
}
