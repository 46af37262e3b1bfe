"""The page's look: the stylesheet, the head (arrow keys for the lesson, plotly preloaded), launch arguments."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

__all__ = ["CSS", "HEAD", "launch_kwargs"]

CSS = """
.gradio-container { max-width: 100% !important; padding: 4px 12px !important; }
.gradio-container > .main, .gradio-container .wrap.fillable { padding: 0 !important; }
#title h3 { margin: 0 !important; font-size: 16px; line-height: 1.25; }
.dec-table { border-collapse: collapse; font-size: 14px; }
.dec-table td, .dec-table th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
.dec-follows { background: #eef6ff; }
.dec-fail td { color: #a00; }
.dec-strip { position: relative; width: 260px; height: 14px; background: #eee; border-radius: 3px; }
.dec-tick { position: absolute; top: 1px; width: 3px; height: 12px; background: #36c; }
.dec-tick.dec-diff { background: #d22; width: 4px; }
#lang .wrap { flex-wrap: nowrap; }
#case-note:not(:has(.gallery-note)) { display: none !important; }
#modes > div:first-child button[role=tab] { padding-top: 2px !important; padding-bottom: 2px !important; }
#views { gap: 4px !important; }
#modes .tabitem, #modes [role=tabpanel] { padding-top: 4px !important; }
#banner .banner { padding: 4px 10px !important; font-size: 14px !important; }
#main-row { gap: 8px; }
#controls { max-height: calc(100vh - 64px); overflow-y: auto; flex-wrap: nowrap;  /* scroll, never wrap into hidden columns */
  position: sticky; top: 4px; align-self: flex-start; }  /* within reach while the details are read below */
#details-fill { display: none !important; }
/* the file's whole name, its size on the line below (Gradio keeps 8rem for the size: the name got ".mp") */
#media .file-preview .file { flex-wrap: wrap; }
#media .file-preview .filename { flex-basis: 100%; overflow: visible; display: flex; flex-wrap: wrap; }
#media .file-preview .filename .stem { min-width: 0; white-space: normal; overflow-wrap: anywhere; overflow: visible; }
#media .file-preview .download { min-width: 0; width: auto; text-align: left; padding-top: 0; }
#controls > * { flex-shrink: 0; }
#ledger .ledger { flex-wrap: nowrap; gap: 2px; }
#ledger .ledger-card { padding: 2px 5px; min-width: 0; }
#ledger .ledger-stage { font-size: 10px; }
#ledger .ledger-shape { font-size: 13px; overflow-wrap: anywhere; }
#ledger .ledger-arrow { font-size: 13px; }
#ledger .ledger-formula { font-size: 10px; line-height: 1.25; }
/* the strip shows each formula's short line (figures.ledger.gist), whole, in up to three lines; the full
   formula opens over the glance while the pointer is on the card (no layout shift) */
#ledger .ledger-gist { display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden;
  overflow-wrap: break-word; }
#ledger .ledger-card { position: relative; }
#ledger .ledger-full { display: none; }
#ledger .ledger-card:hover .ledger-full { display: block; position: absolute; left: 0; top: 100%; z-index: 30;
  width: max(100%, 340px); max-height: none; background: #fff; border: 1px solid #c9d6e8; border-radius: 6px;
  padding: 4px 6px; box-shadow: 0 4px 12px rgba(0, 0, 0, .15); font-size: 12px; }
#ledger .ledger-card:nth-last-child(-n+5):hover .ledger-full { left: auto; right: 0; }
#glance { gap: 6px; flex-wrap: nowrap; }
/* under ~1500 px the ledger's cards wrap their short lines to three: the pictures give up that height */
@media (max-width: 1500px) { #glance { --glance-top: 382px; } }
/* a gallery case's note sits above the glance: the pictures give up its height too */
#views:has(.gallery-note) #glance { --glance-top: 400px; }
@media (max-width: 1500px) { #views:has(.gallery-note) #glance { --glance-top: 460px; } }
.glance-cell { border: 1px solid #dde3ea; border-radius: 8px; padding: 4px !important; gap: 2px !important;
  min-width: 0 !important; }
.glance-title h4 { margin: 0 !important; font-size: 14px; }
.glance-cap { font-size: 12px; line-height: 1.3; color: #234; overflow-wrap: anywhere; }
.glance-idx { font-family: 'DejaVu Sans Mono', monospace; font-size: 10px; letter-spacing: -0.3px; }
.glance-pic { height: calc(100vh - var(--glance-top, 345px)) !important; min-height: 160px !important; }
#glance-heatmaps-pic:not(:has(img)), #lesson-pic:not(:has(img)) { height: 0 !important; min-height: 0 !important;
  overflow: hidden; }
.glance-pic img { height: 100% !important; width: 100% !important; object-fit: contain; object-position: top; }
.glance-html { max-height: calc(100vh - var(--glance-top, 345px) + 40px); overflow-y: auto; }
.glance-table { font-size: 12px; border-collapse: collapse; width: 100%; }
.glance-table td, .glance-table th { padding: 1px 4px !important; border-bottom: 1px solid #eef; text-align: left; }
.glance-table tr.glance-sel td { background: #fde4f1; outline: 1px solid #e6007e; }
.glance-table td { white-space: nowrap; }
.glance-ts { font-size: 11px; font-weight: 700; color: #5e35b1; letter-spacing: -0.4px; }
#glance-timestamps .glance-table td, #glance-timestamps .glance-table th { padding: 1px 2px !important; font-size: 11px; }
#glance-run { margin-top: 4px; }
#modes > .tab-wrapper, #modes [role=tablist] { min-height: 0; }
#lesson-text, #lesson-text .prose, #lesson-text p, #lesson-text li { font-size: 22px !important; line-height: 1.45; }
#lesson-text h3 { font-size: 28px !important; margin: 4px 0 10px 0 !important; }
#lesson-text code { font-size: 20px; }
#case-note .gallery-note { background: #fff8ec; border: 1px solid #f0c987; border-radius: 8px; padding: 4px 10px;
  font-size: 14px; margin: 2px 0; }
#lesson-html .glance-table { font-size: 18px; }
#lesson-html .glance-cap { font-size: 16px; }
#banner .banner { padding: 8px 14px; border-radius: 8px; font-size: 16px; }
#banner .banner-ok { background: #eef6ee; border: 1px solid #9c9; }
.banner-warn { background: #fff6dd; border: 1px solid #f0b44c; color: #6b4a00; padding: 8px 14px;
  border-radius: 8px; font-weight: 600; }
#banner .banner-error { background: #fdecea; border: 1px solid #e57373; color: #8b1a1a; font-weight: 600; }
.field-error { min-height: 0 !important; }
.field-error:not(:has(.err)) { display: none !important; }  /* an empty slot takes no room */
.field-error .err { color: #b71c1c; font-size: 13px; font-weight: 600; padding: 2px 4px; overflow-wrap: anywhere; }
#banner .banner { overflow-wrap: anywhere; }
.ledger { display: flex; flex-wrap: wrap; align-items: stretch; gap: 4px; }
.ledger-card { flex: 1 1 0; background: #f5f8fc; border: 1px solid #c9d6e8; border-radius: 8px; padding: 6px 8px;
  min-width: 118px; }
.ledger-next { background: #fff8ec; border-color: #f0c987; }
.ledger-stage { font-size: 12px; text-transform: uppercase; color: #456; letter-spacing: .03em; }
.ledger-shape { font-family: 'DejaVu Sans Mono', monospace; font-size: 16px; font-weight: 700; color: #123;
  margin: 2px 0; }
.ledger-formula { font-family: 'DejaVu Sans Mono', monospace; font-size: 11px; color: #345; word-break: break-word;
  max-height: 12em; overflow-y: auto; }
.ledger-gist { display: none; }  /* outside the strip (compare): the full formula */
.ledger-arrow { align-self: center; font-size: 18px; color: #89a; flex: 0 0 auto; }
.badges { display: flex; flex-wrap: wrap; gap: 6px; }
.badge { background: #eef2f7; border-radius: 12px; padding: 3px 10px; font-size: 14px; }
.badge-warn { background: #fff1d6; border: 1px solid #f0b44c; }
.notes { font-size: 13px; margin-top: 6px; color: #444; }
.prompt-view { font-family: 'DejaVu Sans Mono', 'Noto Sans Mono CJK SC', monospace; font-size: 13px; line-height: 2.1; }
.chip { border-radius: 5px; padding: 2px 4px; margin: 0 1px; white-space: pre-wrap; }
.chip .count { font-size: 10px; color: #666; margin-left: 2px; }
.chip-system, .chip-user_start, .chip-user_end, .chip-assistant_start { background: #eceff1; color: #455a64; }
.chip-text { background: #e8f5e9; }
.chip-vision_start, .chip-vision_end { background: #ffe0b2; }
.chip-image_pad, .chip-video_pad { background: #ff9800; color: white; font-weight: 700; }
.chip-video_pad .frames { font-weight: 400; }
.chip-timestamp { background: #7e57c2; color: white; font-weight: 700; }
.chip-more { background: #fff; border: 1px dashed #999; }
.nl { color: #999; }
table.stages td, table.stages th { padding: 2px 10px; font-size: 13px; }
table.stages code { white-space: nowrap; }
.view-title h3 { margin: 6px 0 0 0 !important; }
.sel-panel { font-size: 14px; }
.sel-empty { color: #555; padding: 10px; border: 1px dashed #bbb; border-radius: 8px; }
.sel-table th { text-align: left; white-space: nowrap; color: #456; padding: 3px 10px 3px 0; vertical-align: top; }
.sel-table td { padding: 3px 0; }
.chip-selected { outline: 3px solid #e6007e; }
.sel-token { color: #e6007e; font-weight: 700; }
.ver { border: 1px solid #dde; border-radius: 8px; padding: 6px 10px; margin: 6px 0; }
.ver-differs { border-color: #f0b44c; background: #fffaf0; }
.ver-title { font-weight: 700; }
.ver-badge { font-weight: 400; font-size: 12px; background: #eef2f7; border-radius: 10px; padding: 1px 8px; }
.ver-differs .ver-badge { background: #f0b44c; color: #3b2a00; }
.ver-table td, .ver-table th, .cmp-table td, .cmp-table th { padding: 2px 8px; font-size: 13px; vertical-align: top; }
.ver-shown td { font-weight: 600; }
.ver-note, .ver-legend { font-size: 12px; color: #555; }
.cmp-diff { background: #fff3e0; }
.cmp-table td { font-family: 'DejaVu Sans Mono', monospace; font-size: 12px; overflow-wrap: anywhere; }
"""

# Chinese fonts: Debian's fonts-noto-cjk is found by name; nothing is fetched from the network.
HEAD = '<meta name="viewport" content="width=device-width, initial-scale=1">' + """<script>
// lesson mode: the arrow keys press prev / next while the lesson is on screen and no field has the focus
document.addEventListener('keydown', (e) => {
  if (e.target.closest && e.target.closest('input, textarea, select, [contenteditable="true"]')) return;
  const lesson = document.querySelector('#lesson');
  if (!lesson || lesson.offsetParent === null) return;
  const id = e.key === 'ArrowRight' ? '#lesson-next' : e.key === 'ArrowLeft' ? '#lesson-prev' : null;
  if (id) { e.preventDefault(); document.querySelector(id)?.click(); }
});
// The details tab is painted only while it is on screen: its plotly figures take the browser 0.3-0.7 s to
// redraw, which would hold up the glance's next change. A change marks it out of date (the glance event's
// last step calls changed()); it is painted (the hidden #details-fill pressed) when on screen and out of date.
window.qvDetails = (() => {
  let stale = true;
  const onScreen = () => {  // the tab, or the note that stands for it until it is first drawn
    const d = [...document.querySelectorAll('#details, #details-wait')].find(e => e.offsetParent !== null);
    if (!d) return false;  // another tab is open
    const r = d.getBoundingClientRect();
    return r.top < window.innerHeight - 20 && r.bottom > 20;
  };
  const check = () => {
    const fill = document.querySelector('#details-fill');
    if (stale && fill && onScreen()) { stale = false; fill.click(); }
  };
  // only while out of date: the position is read then (a layout), never on a timer
  addEventListener('scroll', () => stale && check(), {passive: true, capture: true});
  addEventListener('resize', () => stale && check());
  addEventListener('click', () => stale && setTimeout(check, 100), {capture: true});  // a tab switch
  return { changed() { stale = true; check(); } };
})();
</script>"""


def _head() -> str:
    """HEAD plus a modulepreload of Gradio's plotly.js chunk (1.3 MB): Gradio fetches it only once the first
    figure arrives; preloading it with the page lets the first figures paint earlier."""
    assets = Path(gr.__file__).parent / "templates" / "frontend" / "assets"
    chunks = sorted(assets.glob("PlotlyPlot-*.js"))
    return HEAD + "".join(f'<link rel="modulepreload" href="assets/{p.name}">' for p in chunks)


def launch_kwargs() -> dict:
    """What Blocks.launch() needs besides host / port (Gradio 6 takes css and theme there)."""
    # run_history off: Gradio's browser-side run history re-reads and re-writes every call's inputs and outputs
    # in localStorage (up to 100 calls, megabytes) on each event, a cost paid before the page updates
    return dict(css=CSS, head=_head(), theme=gr.themes.Default(font=["Noto Sans", "Noto Sans CJK SC", "sans-serif"]),
                run_history=False)


