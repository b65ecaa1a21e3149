/* The service's own page: a person uploads a video and sees its tags, and
 * each sampled frame's time and caption, from the same answer a client gets. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/info.h"
#include "vtag/serve.h"

int vtag_serve_models_json(char **json, const char *model, const char *backbone, int64_t vocab_size,
                           vtag_error *err)
{
    vtag_info info;
    vtag_error e = {0};
    const char *path = vtag_info_collect(&info, &e) ? "unknown" : vtag_isa_name(info.isa);
    json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "model", model ? model : "", "backbone", backbone ? backbone : "",
                          "vocab_size", (json_int_t)vocab_size, "kernel_path", path);
    *json = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return *json ? VTAG_OK : vtag_fail(err, VTAG_ERR_NOMEM, "serve: cannot encode the models (out of memory, or "
                                                           "a file name that is not UTF-8)");
}

const char *vtag_serve_page_html(void)
{
    return "<!doctype html>\n"
           "<html lang=\"en\"><head><meta charset=\"utf-8\"><title>vtag</title>\n"
           /* no icon to ask for: a browser's GET /favicon.ico would be a 404 in its console */
           "<link rel=\"icon\" href=\"data:,\">\n"
           "<style>body{font-family:sans-serif;margin:2em;max-width:60em}"
           "#tags span{display:inline-block;margin:.2em;padding:.2em .6em;border-radius:1em;background:#dde}"
           "#frames{display:flex;flex-wrap:wrap;gap:.5em}"
           ".frame{border:1px solid #ccc;border-radius:.3em;padding:.4em;width:12em;font-size:.85em}"
           ".t{color:#666}#error{color:#b00}</style></head>\n"
           "<body><h1>vtag</h1>\n"
           "<form id=\"f\"><input type=\"file\" id=\"video\" name=\"video\" accept=\"video/*\">\n"
           "<label>top n <input type=\"number\" id=\"top_n\" min=\"1\" value=\"5\"></label>\n"
           "<button type=\"submit\" id=\"go\">Tag</button></form>\n"
           "<p id=\"status\"></p><p id=\"error\"></p>\n"
           "<h2>Tags</h2><div id=\"tags\"></div><p id=\"classes\"></p>\n"
           "<h2>Frames</h2><div id=\"frames\"></div>\n"
           "<script>\n"
           "'use strict';\n"
           "function el(tag, cls, text) { const e = document.createElement(tag);"
           " if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }\n"
           "document.getElementById('f').addEventListener('submit', async (ev) => {\n"
           "  ev.preventDefault();\n"
           "  const file = document.getElementById('video').files[0];\n"
           "  if (!file) return;\n"
           "  const tags = document.getElementById('tags'), frames = document.getElementById('frames');\n"
           "  const status = document.getElementById('status'), error = document.getElementById('error');\n"
           "  tags.textContent = ''; frames.textContent = ''; error.textContent = '';\n"
           "  document.getElementById('classes').textContent = '';\n"
           "  status.textContent = 'tagging ' + file.name + ' ...';\n"
           "  const form = new FormData(); form.append('video', file, file.name);\n"
           "  form.append('top_n', document.getElementById('top_n').value || '5');\n"
           "  const t0 = performance.now();\n"
           "  let r, body;\n"
           "  try { r = await fetch('/v1/tag', {method: 'POST', body: form}); body = await r.json(); }\n"
           "  catch (e) { status.textContent = ''; error.textContent = String(e); return; }\n"
           "  status.textContent = r.status + ' in ' + ((performance.now() - t0) / 1000).toFixed(2) + ' s';\n"
           "  if (body.error) { error.textContent = body.error; return; }\n"
           "  for (const t of body.tags || []) tags.appendChild(el('span', 'tag', t.label + ' (' + t.frames + ')'));\n"
           "  document.getElementById('classes').textContent = 'class1: ' + (body.class1 || '-') +"
           " ', class2: ' + (body.class2 || '-');\n"
           "  for (const f of body.frames || []) {\n"
           "    const d = el('div', 'frame'); d.appendChild(el('div', 't', f.pts_seconds.toFixed(2) + ' s'));\n"
           "    d.appendChild(el('div', 'c', (f.tokens || []).join(' '))); frames.appendChild(d);\n"
           "  }\n"
           "  document.body.dataset.tagged = '1';\n"
           "});\n"
           "</script></body></html>\n";
}
