"""The UI's words: one table, English and Chinese side by side.

Every label, hint and narration the app shows comes from :data:`WORDS` through :func:`tr`; the
formulas with numbers (``nframes = floor(249/30*2/2)*2 = 16``) come from the Trace and are the same
in both languages. Narration entries are ``str.format`` templates filled with live numbers.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Lang", "LANGS", "WORDS", "tr", "lang_of", "Text", "say", "local", "join_texts"]


class Lang(str, Enum):
    EN = "en"
    ZH = "zh"


LANGS: dict[str, Lang] = {"English": Lang.EN, "中文": Lang.ZH}

# key -> (English, 中文)
WORDS: dict[str, tuple[str, str]] = {
    # ---- page ------------------------------------------------------------------------------
    "title": ("How Qwen-VL sees your image or video", "Qwen-VL 如何看你的图像与视频"),
    "subtitle": (
        "Every step from pixels to vision tokens for Qwen2-VL, Qwen2.5-VL, Qwen3-VL(-MoE), Qwen3.5 and Qwen4-Exp, "
        "with the numbers of "
        "your own media (qwen-vl-utils 0.0.14 + transformers 5.23).",
        "以你自己的媒体的真实数字，逐步展示 Qwen2-VL、Qwen2.5-VL、Qwen3-VL(-MoE)、Qwen3.5、Qwen4-Exp 从像素到视觉 token 的每一步"
        "（对齐 qwen-vl-utils 0.0.14 + transformers 5.23）。",
    ),
    "language": ("Language / 语言", "Language / 语言"),
    "ok_banner": ("{model} · {pipeline} · {media}: {tokens} vision tokens, {total} prompt tokens",
                  "{model} · {pipeline} · {media}：{tokens} 个视觉 token，提示共 {total} 个 token"),
    "error_banner": ("⚠ {message}", "⚠ {message}"),
    # the library and the CLI write their errors in English: in 中文 a lead-in names the control at fault
    "error_lead_field": ("{message}", "「{field}」出错（以下为库的英文说明）：{message}"),
    "error_lead": ("{message}", "设置出错（以下为库的英文说明）：{message}"),
    "stale_views": ("The views below still show the last valid settings.", "下方视图仍显示上一次有效设置的结果。"),
    "internal_error": ("internal error ({kind}); the app keeps running, try another setting",
                       "内部错误（{kind}）；应用仍在运行，请换一个设置再试"),
    "too_long": ("the video lasts {duration:.0f} s; this server accepts up to {limit:.0f} s "
                 "(--max-duration-s); trim it first or pick a shorter clip",
                 "视频时长 {duration:.0f} 秒；本服务最多接受 {limit:.0f} 秒（--max-duration-s）；请先裁剪或换更短的片段"),
    "no_media": ("no media: upload an image or a video, or pick an example",
                 "没有媒体：请上传图像或视频，或选择一个示例"),
    # ---- controls --------------------------------------------------------------------------
    "controls": ("Controls", "控制"),
    "media": ("Image or video", "图像或视频"),
    "examples": ("Examples (bundled, offline)", "示例（内置，离线可用）"),
    "model": ("Model family", "模型系列"),
    "pipeline": ("Pipeline", "流程"),
    "decoder": ("Video decoder", "视频解码器"),
    "decoder_info": ("whose frame count, fps, rotation and pictures the trace follows",
                     "按哪个解码器的帧数、帧率、旋转和画面计算"),
    "dec_torchcodec": ("torchcodec (qwen-vl-utils / transformers default)", "torchcodec（qwen-vl-utils / transformers 默认）"),
    "dec_decord": ("decord 0.6.0", "decord 0.6.0"),
    "dec_pyav": ("PyAV (transformers load_video)", "PyAV（transformers load_video）"),
    "decoders_view": ("Decoders: the same request under each backend", "解码器：同一请求在各解码后端下的结果"),
    "dec_none": ("images are not decoded by a video backend", "图像不经过视频解码器"),
    "dec_frames": ("frames", "帧数"),
    "dec_fps": ("fps", "帧率"),
    "dec_grid": ("grid_thw", "grid_thw"),
    "dec_rotation": ("rotation applied", "应用旋转"),
    "dec_resized": ("resized (H×W)", "缩放后 (H×W)"),
    "dec_tokens": ("vision tokens", "视觉 token 数"),
    "dec_timeline": ("sampled frames (red: other picture)", "采样帧（红色：画面不同）"),
    "dec_follows": ("this page", "本页"),
    "dec_sheet": ("The sampled frames as each backend returns them (red border: a picture the page's backend does "
                  "not show; k→p: frame k returns picture p).",
                  "各解码器实际返回的采样帧（红框：本页所用解码器没有的画面；k→p：第 k 帧返回的是画面 p）。"),
    "dec_sheet_some": ("Showing {shown} of {n} sampled frames, evenly spread.", "显示 {n} 个采样帧中均匀分布的 {shown} 个。"),
    "dec_same": ("all backends agree on this request", "各解码器在此请求上一致"),
    "dec_playback": ("real playback times (pts) differ from index / fps, which the reference uses:",
                     "真实播放时间 (pts) 与参考实现使用的 index / fps 不同："),
    "pipeline_info": ("official = qwen-vl-utils then processor (model cards); processor = transformers alone",
                      "official = 先 qwen-vl-utils 再 processor（模型卡做法）；processor = 仅 transformers"),
    "official": ("official recipe", "官方流程"),
    "processor": ("processor only", "仅 processor"),
    "sampling_group": ("Video sampling", "视频采样"),
    "sampling_mode": ("Sample by", "采样方式"),
    "by_fps": ("FPS", "帧率 FPS"),
    "by_nframes": ("nframes", "帧数 nframes"),
    "fps": ("FPS (frames per second to sample)", "采样帧率 FPS（每秒取几帧）"),
    "nframes": ("nframes (frame count)", "帧数 nframes"),
    "min_frames": ("min_frames (0 = default)", "min_frames（0 = 默认）"),
    "max_frames": ("max_frames (0 = default)", "max_frames（0 = 默认）"),
    "video_start": ("video_start (s)", "起始时间 video_start（秒）"),
    "video_end": ("video_end (s)", "结束时间 video_end（秒）"),
    "budget_group": ("Pixel budget", "像素预算"),
    "pixel_unit": ("Enter budgets in", "预算单位"),
    "unit_px": ("pixels", "像素"),
    "unit_tokens": ("tokens (x factor²)", "token（× factor²）"),
    "min_pixels": ("min_pixels (0 = default)", "min_pixels（0 = 默认）"),
    "max_pixels": ("max_pixels (0 = default)", "max_pixels（0 = 默认）"),
    "total_pixels": ("total_pixels (video, official; 0 = default)", "total_pixels（视频，官方流程；0 = 默认）"),
    "budget_now": ("in effect: min {lo} px = {lo_t} tokens · max {hi} px = {hi_t} tokens (1 token = {f}² = {f2} px)",
                   "当前生效：min {lo} 像素 = {lo_t} token · max {hi} 像素 = {hi_t} token（1 token = {f}² = {f2} 像素）"),
    "sizes_group": ("Patch sizes (advanced)", "切块尺寸（高级）"),
    "patch_size": ("patch_size (0 = model's)", "patch_size（0 = 模型默认）"),
    "merge_size": ("merge_size (0 = model's)", "merge_size（0 = 模型默认）"),
    "temporal_patch_size": ("temporal_patch_size (0 = model's)", "temporal_patch_size（0 = 模型默认）"),
    "prompt_text": ("Prompt text", "提示文本"),
    "prompt_placeholder": ("blank: the default prompt for the media", "留空：使用该媒体的默认提示"),
    "versions_group": ("Reference versions (advanced)", "参考版本（高级）"),
    "text_resume": ("Text position after a video", "视频之后文本的位置编号"),
    "release": ("release (max + 1)", "发布版（最大值 + 1）"),
    "transformers": ("transformers 5.12+", "transformers 5.12+"),
    "qwen3_outer_wrapper": ("Qwen3: keep outer vision_start/end (transformers 5.12+)",
                            "Qwen3：保留外层 vision_start/end（transformers 5.12+）"),
    "cap_pixels_per_frame": ("processor: cap_pixels_per_frame", "processor：cap_pixels_per_frame"),
    "view_group": ("View", "显示"),
    "group": ("Temporal group shown in the patch grid", "补丁网格显示的时间组"),
    "order": ("Patch numbering", "补丁编号方式"),
    "order_merge": ("merge order (pixel_values rows)", "合并顺序（pixel_values 行号）"),
    "order_raster": ("raster order (row by row)", "光栅顺序（逐行）"),
    "windows": ("Qwen2.5-VL attention windows", "Qwen2.5-VL 注意力窗口"),
    "context_len": ("Context length line (tokens)", "上下文长度参考线（token）"),
    # ---- view titles -----------------------------------------------------------------------
    "ledger": ("Shape ledger", "形状总账"),
    "media_view": ("Media", "媒体"),
    "timeline_view": ("Sampling timeline", "采样时间线"),
    "frames_view": ("Sampled frames", "采样帧"),
    "resize_view": ("Resize", "缩放"),
    "patch_view": ("Patch grid", "补丁网格"),
    "rope_view": ("MRoPE position ids", "MRoPE 位置编号"),
    "prompt_view": ("Prompt", "提示"),
    "encoder_view": ("Vision encoder", "视觉编码器"),
    "summary": ("Trace summary (JSON)", "Trace 摘要（JSON）"),
    "details": ("Details from the library", "库给出的细节"),
    # ---- ledger stages (keys = trace.LedgerRow.stage) ----------------------------------------
    "stage_raw": ("raw", "原始"),
    "stage_sampled": ("sampled", "采样后"),
    "stage_resized": ("resized", "缩放后"),
    "stage_pixel_values": ("pixel_values", "pixel_values"),
    "stage_grid_thw": ("grid_thw", "grid_thw"),
    "stage_tokens": ("vision tokens", "视觉 token"),
    "stage_time": ("time", "时间"),
    "stage_prompt": ("prompt", "提示"),
    "stage_embeddings": ("embeddings", "嵌入"),
    "embeddings_shape": ("[{n}, D_llm]", "[{n}, D_llm]"),
    "embeddings_formula": ("merger: {m}x{m} patches -> 1 token of the LLM width (run the encoder below)",
                           "merger：{m}x{m} 个补丁 -> 1 个 LLM 宽度的 token（在下方运行编码器）"),
    "embeddings_gist": ("merger: {m}x{m} patches -> 1 token", "merger：{m}x{m} 个补丁 -> 1 个 token"),
    # ---- media badges ----------------------------------------------------------------------
    "b_kind": ("kind", "类型"),
    "b_video": ("video", "视频"),
    "b_image": ("image", "图像"),
    "b_container": ("container", "容器"),
    "b_size": ("displayed W×H", "显示尺寸 W×H"),
    "b_coded": ("coded W×H", "编码尺寸 W×H"),
    "b_fps": ("fps", "帧率"),
    "b_frames": ("frames", "帧数"),
    "b_header": ("header says", "文件头声明"),
    "b_duration": ("duration", "时长"),
    "b_rotation": ("rotation", "旋转"),
    "b_exif": ("EXIF orientation", "EXIF 方向"),
    "b_applied": ("applied", "已应用"),
    "b_not_applied": ("not applied", "未应用"),
    "b_mode": ("mode", "模式"),
    "b_alpha": ("alpha", "透明通道"),
    "b_hash": ("content hash", "内容哈希"),
    "b_none": ("none", "无"),
    # ---- figure words ----------------------------------------------------------------------
    "time_s": ("time (s)", "时间（秒）"),
    "raw_frames": ("raw frames", "原始帧"),
    "sampled_frames": ("sampled", "采样帧"),
    "padding_frame": ("padding (repeats the last frame)", "填充（重复最后一帧）"),
    "trimmed": ("video_start..video_end", "video_start..video_end"),
    "group_short": ("g{g}", "组{g}"),
    "pixels": ("pixels", "像素"),
    "original": ("original {w}×{h}", "原始 {w}×{h}"),
    "resized": ("resized {w}×{h}", "缩放后 {w}×{h}"),
    "factor_grid": ("{f} px grid (factor = patch × merge)", "{f} 像素网格（factor = patch × merge）"),
    "max_pixels_axis": ("max_pixels (px, log scale)", "max_pixels（像素，对数坐标）"),
    "tokens_axis": ("vision tokens", "视觉 token 数"),
    "curve": ("vision tokens vs max_pixels", "视觉 token 数 vs max_pixels"),
    "current": ("current setting", "当前设置"),
    "context_line": ("context length {n}", "上下文长度 {n}"),
    "order_colour": ("row", "行号"),
    "raster_colour": ("raster index", "光栅序号"),
    "zoom_title": ("zoom: first {n}×{n} patches, numbered", "放大：左上 {n}×{n} 个补丁及其编号"),
    "frame_title": ("temporal group {g} (frames {frames}) on the {h}×{w} resized frame",
                    "时间组 {g}（帧 {frames}），缩放后 {h}×{w} 的画面"),
    "hover_row": ("row", "行"),
    "hover_block": ("block / token", "块 / token"),
    "hover_raster": ("raster", "光栅"),
    "hover_window": ("window", "窗口"),
    "zoom_tokens": ("zoom: tokens {a}..{b}", "放大：token {a}..{b}"),
    "token_pos": ("token position in the prompt", "提示中的 token 位置"),
    "position_id": ("position id", "位置编号"),
    "vision_run": ("vision tokens", "视觉 token"),
    "group_axis": ("temporal group", "时间组"),
    "time_id": ("time id (T - s)", "时间编号（T - s）"),
    "collision": ("shared time id", "时间编号冲突"),
    "int_cast": ("transformers 4.5x..5.12 (int cast)", "transformers 4.5x..5.12（先取整）"),
    "freq_layout": ("LLM rotary frequencies<br>(which axis drives each)", "LLM 旋转频率<br>（每个频率由哪个轴驱动）"),
    # figures past their point limit (Budget.max_figure_points / --max-figure-points) say what they kept
    "sampled_line": ("{n:,} tokens: drawn through each axis's min and max in {b:,} buckets ({shown:,} of {total:,} "
                     "points; every point drawn is a real id); --max-figure-points raises the limit",
                     "{n:,} 个 token：每个轴按 {b:,} 段取最小值与最大值绘制（共 {total:,} 个点，画出 {shown:,} 个；"
                     "画出的每个点都是真实编号）；--max-figure-points 可提高上限"),
    "sampled_grid": ("{h}×{w} patches: 1 in {k} on each side drawn ({shown:,} of {total:,}; hover gives that "
                     "patch's own numbers, the zoom shows every patch); --max-figure-points raises the limit",
                     "{h}×{w} 个补丁：每边每 {k} 个画一个（共 {total:,} 个，画出 {shown:,} 个；悬停显示该补丁自己的编号，"
                     "放大图显示全部补丁）；--max-figure-points 可提高上限"),
    "sampled_marks": ("{n:,} raw frames: 1 in {k} drawn", "{n:,} 个原始帧：每 {k} 帧画一个"),
    "tokens_word": ("tokens", "个 token"),
    "frames_word": ("frames", "帧"),
    "more_blocks": ("… {n} more blocks …", "… 还有 {n} 个块 …"),
    "run_tokens": ("tokens {a}..{b}", "token {a}..{b}"),
    # ---- narration ---------------------------------------------------------------------------
    "n_media_video": (
        "A {container} video of {w}×{h} pixels (displayed), {frames} frames at {fps:.3f} fps = {duration:.2f} s. "
        "Frames are decoded only where sampling asks for them.{rot}",
        "一段 {container} 视频，显示尺寸 {w}×{h}，共 {frames} 帧，{fps:.3f} fps = {duration:.2f} 秒。"
        "只解码采样需要的那几帧。{rot}",
    ),
    "n_media_image": (
        "A {container} image of {w}×{h} pixels, mode {mode}. {exif}",
        "一张 {container} 图像，{w}×{h} 像素，模式 {mode}。{exif}",
    ),
    "n_rot": (" The display matrix rotates it by {r}°: coded {cw}×{ch}, shown {w}×{h}.",
              " 显示矩阵将其旋转 {r}°：编码为 {cw}×{ch}，显示为 {w}×{h}。"),
    "n_exif": ("EXIF orientation {o}: {how}.", "EXIF 方向 {o}：{how}。"),
    "n_exif_none": ("No EXIF orientation tag.", "没有 EXIF 方向标记。"),
    "n_timeline": (
        "{rule}: the video runs at {fps:.3f} fps and we asked for {req}; {formula}. So {n} of {total} frames are taken "
        "(decided by {by}), an achieved sample_fps of {sfps:.4f}. Frames go to the model in temporal groups of {tp}: "
        "{groups} groups{pad}.",
        "{rule}：视频为 {fps:.3f} fps，请求 {req}；{formula}。因此从 {total} 帧中取 {n} 帧（由 {by} 决定），"
        "实际 sample_fps = {sfps:.4f}。帧以每 {tp} 帧一组送入模型：共 {groups} 组{pad}。",
    ),
    "n_pad": ("; the last frame is repeated {k}× to fill the last group", "；最后一帧重复 {k} 次以补满最后一组"),
    "n_timeline_image": ("An image has no timeline: it is one frame, duplicated ×{tp} to fill one temporal patch.",
                         "图像没有时间线：它只是一帧，复制 ×{tp} 以填满一个时间块。"),
    "n_resize": (
        "{src_w}×{src_h} becomes {w}×{h} (each side a multiple of factor {f} = patch {p} × merge {m}): {branch}. "
        "Budget: {budget}. {resizes} resize(s), {resampler}. Scale {scale:.3f}, aspect-ratio change {aspect:+.2%}. "
        "Each temporal group becomes {tpg} tokens; the curve shows how the token count follows max_pixels.",
        "{src_w}×{src_h} 变为 {w}×{h}（每边为 factor {f} = patch {p} × merge {m} 的倍数）：{branch}。"
        "预算：{budget}。共缩放 {resizes} 次，{resampler}。缩放比例 {scale:.3f}，宽高比变化 {aspect:+.2%}。"
        "每个时间组产生 {tpg} 个 token；曲线显示 token 数如何随 max_pixels 变化。",
    ),
    "n_patch": (
        "The {h}×{w} frame is cut into {gh}×{gw} patches of {p}×{p} px ({tp} frames deep). pixel_values rows are NOT in "
        "raster order: rows come in {m}×{m} merge blocks, so rows 4k..4k+3 are the four patches merged into token k "
        "(row 0, 1 = top-left pair, 2, 3 = the pair below). {rows} rows × {row_len} values; {tokens} tokens.{win}",
        "{h}×{w} 的画面被切成 {gh}×{gw} 个 {p}×{p} 像素的补丁（时间深度 {tp} 帧）。pixel_values 的行不是光栅顺序："
        "每 {m}×{m} 个补丁组成一个合并块，第 4k..4k+3 行就是合并成第 k 个 token 的四个补丁"
        "（0、1 行是左上一对，2、3 行是其下方一对）。共 {rows} 行 × {row_len} 个值；{tokens} 个 token。{win}",
    ),
    "n_windows": (
        " Qwen2.5-VL attends inside windows of {wp}×{wp} patches ({wpx} px = {wm}×{wm} tokens): {nw} windows per "
        "frame, partial at the edges; blocks {full} attend to the whole frame.",
        " Qwen2.5-VL 在 {wp}×{wp} 个补丁（{wpx} 像素 = {wm}×{wm} 个 token）的窗口内做注意力：每帧 {nw} 个窗口，"
        "边缘窗口不完整；第 {full} 层为全局注意力。",
    ),
    "n_rope": (
        "Every prompt token gets three position ids (T, H, W). Text tokens carry the same id on all three and step "
        "by 1; the vision tokens of a run starting at s get T = s + time id, H = s + row, W = s + column. {time} "
        "Text after the vision tokens resumes at {resume} ({rule}); rope_deltas = {deltas}.{coll}",
        "每个提示 token 有三个位置编号（T、H、W）。文本 token 三者相同且逐一递增；从 s 开始的视觉 token："
        "T = s + 时间编号，H = s + 行，W = s + 列。{time}视觉 token 之后的文本从 {resume} 继续（{rule}）；"
        "rope_deltas = {deltas}。{coll}",
    ),
    "n_time_qwen2": ("Qwen2-VL numbers the temporal groups 0, 1, 2, … whatever the fps.",
                     "Qwen2-VL 把时间组依次编号 0、1、2……，与帧率无关。"),
    "n_time_qwen25": (
        "Qwen2.5-VL scales time: time id = long(k × second_per_grid_t {spg:.4f} × tokens_per_second {tps}), "
        "interval {iv:.4f} per group.",
        "Qwen2.5-VL 按秒缩放时间：时间编号 = long(k × second_per_grid_t {spg:.4f} × tokens_per_second {tps})，"
        "每组间隔 {iv:.4f}。",
    ),
    "n_time_qwen3": (
        "{model} gives every temporal group T = s (no time in the ids): time is written as text, "
        "{first} … {last}, before each group.",
        "{model} 的每个时间组都是 T = s（位置编号里没有时间）：时间以文本形式写在每组之前，{first} … {last}。",
    ),
    "n_time_image": ("An image is one run with T = s.", "图像是一个 T = s 的视觉段。"),
    "n_collide": (" ⚠ {n} time ids are shared by several temporal groups (time_interval {iv:.3f} < 1): the model "
                  "cannot tell those groups apart. Lower the fps or use fewer frames.",
                  " ⚠ 有 {n} 个时间编号被多个时间组共用（time_interval {iv:.3f} < 1）：模型无法区分这些组。"
                  "请降低 fps 或减少帧数。"),
    "n_prompt": (
        "The chat template writes one placeholder per item; the processor expands it to {n} × {pad}. "
        "{tokens} tokens in all: {vision} vision pads + {text} text and special tokens.{ts}",
        "聊天模板为每个媒体写一个占位符；processor 将其展开为 {n} × {pad}。"
        "共 {tokens} 个 token：{vision} 个视觉占位 + {text} 个文本与特殊 token。{ts}",
    ),
    "n_prompt_ts": (" {model}: each temporal group is its own block, preceded by its timestamp text.",
                    " {model}：每个时间组自成一块，前面写着它的时间戳文本。"),
    "n_prompt_ids": (" {model}'s tokenizer: {vs} = {vs_id}, {pad} = {pad_id}, {ve} = {ve_id}.",
                     " {model} 的分词器：{vs} = {vs_id}，{pad} = {pad_id}，{ve} = {ve_id}。"),
    "n_rope_rows": (
        " The language model gets four rows, not three (transformers 5.23): row 0 is the plain text position "
        "0 … {last}, for the causal mask; rows 1–3 are T, H, W. {model} rotates {rd} of its {hd} head dims "
        "(partial_rotary_factor {prf:g}): {nf} frequencies 1 / {theta:g}^(2i/{rd}), mrope_section {sec}.",
        " 语言模型收到的是四行而不是三行（transformers 5.23）：第 0 行是普通文本位置 0 … {last}，用于因果掩码；"
        "第 1–3 行才是 T、H、W。{model} 只旋转 {hd} 维头中的 {rd} 维（partial_rotary_factor {prf:g}）："
        "{nf} 个频率 1 / {theta:g}^(2i/{rd})，mrope_section {sec}。",
    ),
    "text_row": ("row 0: text position", "第 0 行：文本位置"),
    # ---- encoder -----------------------------------------------------------------------------
    "checkpoint": ("Checkpoint folder or Hub repo id OWNER/NAME (blank = the tower picked)",
                   "权重文件夹或 Hub 仓库 OWNER/NAME（留空 = 右侧所选编码器）"),
    "tower": ("Tower: real weights from the Hub (download size) or random", "编码器：Hub 真实权重（下载大小）或随机权重"),
    "fetching_tower": ("downloading the vision tower (only its tensors)", "正在下载视觉编码器（仅其张量）"),
    "tower_info": ("tiny = same code paths, seconds on CPU; full-size towers need a GPU for big inputs",
                   "tiny = 同样的代码路径，CPU 上几秒；完整尺寸的编码器处理大输入需要 GPU"),
    "run_encoder": ("Run the encoder", "运行编码器"),
    "heatmap_kind": ("Heatmap", "热力图"),
    "hm_norm": ("token norm", "token 范数"),
    "hm_pca": ("PCA → RGB", "PCA → RGB"),
    "hm_cosine": ("cosine to a token", "与某 token 的余弦相似度"),
    "layer": ("Layer", "层"),
    "layer_merged": ("merged embeddings (merger output)", "合并后的嵌入（merger 输出）"),
    "layer_block": ("block {k} output (patch level)", "第 {k} 层输出（补丁级）"),
    "token": ("Token / patch index for cosine", "余弦相似度的参考 token / 补丁序号"),
    "random_banner": ("⚠ RANDOM weights ({source}): the architecture and shapes are real, the values are not meaningful. "
                      "Pick a Hub tower, or give a checkpoint (--checkpoint DIR|OWNER/NAME or the field), for real features.",
                      "⚠ 随机权重（{source}）：结构和形状是真实的，数值没有意义。"
                      "请选择 Hub 编码器，或提供权重（--checkpoint DIR|OWNER/NAME 或此输入框），以得到真实特征。"),
    "weights_banner": ("Weights: {source}", "权重：{source}"),
    "encoder_idle": ("Press Run to encode the current input ({rows} patches). Result cached by media, settings and weights.",
                     "点击运行以编码当前输入（{rows} 个补丁）。结果按媒体、设置和权重缓存。"),
    "encoder_stale": ("The settings changed since the last run; press Run again.", "设置已改变，请重新运行。"),
    "stage": ("stage", "阶段"),
    "shape": ("shape", "形状"),
    "n_encoder": (
        "{family} tower '{name}': depth {depth}, width {d}, {heads} heads. {rows} patch rows enter, {tokens} merged "
        "tokens of width {out} leave. {kind}. Each tile is one temporal group (its first frame), the map drawn over it.",
        "{family} 编码器“{name}”：深度 {depth}，宽度 {d}，{heads} 个头。输入 {rows} 行补丁，输出 {tokens} 个宽度 {out} "
        "的合并 token。{kind}。每个小图是一个时间组（取其第一帧），热力图叠加其上。",
    ),
    # ---- linked selection (teach.py) -------------------------------------------------------
    "selection_view": ("Follow one patch: click the frame", "追踪一个补丁：点击画面"),
    "sel_hint": ("Click anywhere on the frame on the left: the patch under the pointer is followed through every "
                 "stage (its pixel_values row, frames, token, position ids) and outlined in every view.",
                 "点击左侧画面任意位置：指针下的补丁会被逐步追踪（pixel_values 行、帧、token、位置编号），并在每个视图中标出。"),
    "sel_mark": ("row {row} · token {token}", "第 {row} 行 · token {token}"),
    "sel_token": ("selected token (input_ids[{i}])", "所选 token（input_ids[{i}]）"),
    "sel_frames": ("frames of the selected group g{g}", "所选时间组 g{g} 的帧"),
    "sel_in_prompt": ("selected: pad #{k} of this run = input_ids[{i}] = vision token {token}",
                      "所选：本段第 {k} 个占位符 = input_ids[{i}] = 视觉 token {token}"),
    "sel_image": ("the image", "图像本身"),
    "sel_image_copy": ("the image again (an image is repeated to fill the temporal pair)",
                       "再次使用该图像（图像被复制以凑满时间对）"),
    "sel_frame": ("frame {i} ({s} s)", "第 {i} 帧（{s} 秒）"),
    "sel_pad": ("{what}, a padding copy", "{what}，补齐用的副本"),
    "sel_time": ("s {s} + (time id {tid}, block row {bh}, block col {bw})",
                 "s {s} + （时间编号 {tid}，块行 {bh}，块列 {bw}）"),
    "sel_seconds": ("the model is told {s} s", "模型得知的时间为 {s} 秒"),
    "sel_int_cast": ("transformers 4.5x .. 5.12 would give time id {v}", "transformers 4.5x .. 5.12 会给出时间编号 {v}"),
    "sel_k_patch": ("patch", "补丁"),
    "sel_patch": ("pixel ({x}, {y}) of the resized {W}x{H} frame → patch (row {ph}, col {pw}) of the {gh}x{gw} grid",
                  "缩放后 {W}x{H} 画面的像素 ({x}, {y}) → {gh}x{gw} 网格中的补丁（第 {ph} 行，第 {pw} 列）"),
    "sel_k_block": ("merge block", "合并块"),
    "sel_block": ("block ({bh}, {bw}): the {m}x{m} patches {patches}", "块 ({bh}, {bw})：{m}x{m} 个补丁 {patches}"),
    "sel_k_row": ("pixel_values row", "pixel_values 行"),
    "sel_rows": ("row {row} of {n}; the block is rows {a}..{b} (consecutive: 2x2 merge order)",
                 "共 {n} 行中的第 {row} 行；该块占第 {a}..{b} 行（连续：2x2 合并顺序）"),
    "sel_k_frames": ("source frames", "来源帧"),
    "sel_group": ("temporal group {g}", "时间组 {g}"),
    "sel_k_token": ("vision token", "视觉 token"),
    "sel_token_at": ("token {token} of {n} = input_ids[{i}] (pad run {run}, offset {k})",
                     "共 {n} 个中的 token {token} = input_ids[{i}]（第 {run} 段占位符，偏移 {k}）"),
    "sel_k_position": ("MRoPE position ids", "MRoPE 位置编号"),
    "sel_k_window": ("attention window", "注意力窗口"),
    "sel_window": ("window {k} of this frame: {side}x{side} merged tokens, rows {r0}..{r1}, cols {c0}..{c1} ({n} "
                   "tokens); blocks {full} attend over the whole frame instead",
                   "本帧的第 {k} 个窗口：{side}x{side} 个合并 token，行 {r0}..{r1}，列 {c0}..{c1}（{n} 个 token）；"
                   "第 {full} 层改为全帧注意力"),
    "sel_k_heatmap": ("encoder", "编码器"),
    "sel_heat": ("once the encoder has run (below), its heatmap switches to the cosine similarity of every token "
                 "to token {token}", "编码器（下方）运行后，热力图会切换为每个 token 与 token {token} 的余弦相似度"),
    "sel_derivation": ("How each number was derived", "每个数字的推导"),
    # ---- version differences -----------------------------------------------------------------
    "versions_view": ("Version differences for this media", "本媒体上的版本差异"),
    "ver_none": ("No version-dependent behaviour applies here.", "此处没有与版本相关的行为。"),
    "ver_differs": ("differs here", "此处不同"),
    "ver_same": ("same numbers here", "此处数字相同"),
    "ver_rule": ("rule", "规则"),
    "ver_versions": ("who does it", "谁这样做"),
    "ver_value": ("value for this media", "本媒体上的值"),
    "ver_shown": ("= what this page shows", "= 本页显示的值"),
    "ver_note": ("⚖ **{title}**: this page shows {shown} = `{value}`; {others}.",
                 "⚖ **{title}**：本页显示 {shown} = `{value}`；{others}。"),
    "ver_text_resume": ("Text position after a vision block (MRoPE)", "视觉块之后文本的位置编号（MRoPE）"),
    "ver_qwen3_outer_wrapper": ("Qwen3-VL video prompt: outer vision_start / vision_end",
                                "Qwen3-VL 视频提示：外层 vision_start / vision_end"),
    "ver_int_cast_time_ids": ("Qwen2.5-VL: time ids of the temporal groups", "Qwen2.5-VL：时间组的时间编号"),
    "ver_second_per_grid_ts_source": ("Qwen2.5-VL: where second_per_grid_ts comes from",
                                      "Qwen2.5-VL：second_per_grid_ts 的来源"),
    "ver_video_budget": ("Video pixel budget: qwen-vl-utils vs the processor", "视频像素预算：qwen-vl-utils 与 processor"),
    "ver_image_budget": ("Image pixel budget: qwen-vl-utils vs the processor", "图像像素预算：qwen-vl-utils 与 processor"),
    "ver_frame_indices": ("Which frames are taken: qwen-vl-utils vs the processor",
                          "取哪些帧：qwen-vl-utils 与 processor"),
    "ver_video_backend": ("Which video decoder reads the file: torchcodec, decord or PyAV",
                          "由哪个视频解码器读取文件：torchcodec、decord 或 PyAV"),
    "details_wait": ("The stage details are drawn when this tab comes on screen.",
                     "此标签页进入屏幕时才绘制各阶段细节。"),
    # ---- compare -------------------------------------------------------------------------------
    "compare_view": ("Compare two settings on the same media", "同一媒体上对比两组设置"),
    "compare_info": ("A = the settings on the left; B = A with the changes below.",
                     "A = 左侧当前设置；B = 在 A 基础上做下面的修改。"),
    "cmp_b_model": ("B: model family", "B：模型系列"),
    "cmp_b_pipeline": ("B: pipeline", "B：流程"),
    "cmp_b_fps": ("B: FPS (0 = same as A)", "B：采样帧率（0 = 与 A 相同）"),
    "cmp_b_nframes": ("B: nframes (0 = same as A)", "B：帧数（0 = 与 A 相同）"),
    "cmp_b_max_pixels": ("B: max_pixels (0 = same as A)", "B：max_pixels（0 = 与 A 相同）"),
    "cmp_run": ("Compare", "对比"),
    "cmp_summary": ("{n} quantities differ (marked, listed first).", "有 {n} 项不同（已标出并排在前面）。"),
    "cmp_detail": ("difference", "差异"),
    "cmp_model": ("model family", "模型系列"),
    "cmp_decoder": ("video decoder", "视频解码器"),
    "cmp_pipeline": ("pipeline", "流程"),
    "cmp_media": ("media", "媒体"),
    "cmp_nframes": ("frames taken", "取帧数"),
    "cmp_frame_indices": ("frame indices", "帧索引"),
    "cmp_sample_fps": ("sample_fps", "sample_fps"),
    "cmp_resized_size": ("resized size (H x W)", "缩放后尺寸（高 x 宽）"),
    "cmp_resize_rule": ("resize rule", "缩放规则"),
    "cmp_pixel_budget": ("pixel budget [min, max]", "像素预算 [min, max]"),
    "cmp_grid_thw": ("grid_thw", "grid_thw"),
    "cmp_pixel_values_shape": ("pixel_values shape", "pixel_values 形状"),
    "cmp_pixel_values": ("pixel_values (digest of media, frames, resizes, patch sizes, normalization)",
                         "pixel_values（媒体、取帧、缩放、patch 尺寸与归一化的摘要）"),
    "cmp_special_ids": ("vision_start / vision_end / image_pad / video_pad ids",
                        "vision_start / vision_end / image_pad / video_pad 的 id"),
    "cmp_input_ids": ("input_ids (digest)", "input_ids（摘要）"),
    "cmp_position_ids": ("MRoPE position ids (digest)", "MRoPE 位置编号（摘要）"),
    "cmp_rope_layout": ("how the LLM rotates by the position ids", "LLM 如何按位置编号旋转"),
    "cmp_vision_tokens": ("vision tokens", "视觉 token 数"),
    "cmp_tokens_per_group": ("tokens per temporal group", "每个时间组的 token 数"),
    "cmp_time_ids": ("time ids (T offset per group)", "时间编号（每组 T 偏移）"),
    "cmp_timestamps": ("timestamps", "时间戳"),
    "cmp_second_per_grid_ts": ("second_per_grid_ts", "second_per_grid_ts"),
    "cmp_prompt_tokens": ("prompt length (tokens)", "提示长度（token）"),
    "cmp_rope_deltas": ("rope_deltas", "rope_deltas"),
    "cmp_text_resume": ("position id of the first text token after the media", "媒体之后第一个文本 token 的位置编号"),
    # ---- reproduce and export ---------------------------------------------------------------------
    "reproduce_view": ("Reproduce in code", "用代码复现"),
    "reproduce_info": ("This script runs qwen_vl_utils.process_vision_info and the transformers processor with "
                       "exactly these settings (offline) and prints the shapes and ids this page shows; the "
                       "command line runs the same through qwenvl-viz.",
                       "该脚本以完全相同的设置（离线）运行 qwen_vl_utils.process_vision_info 与 transformers 的 "
                       "processor，并打印本页显示的形状与编号；命令行则用 qwenvl-viz 做同样的事。"),
    "snippet": ("Python (qwen-vl-utils 0.0.14 + transformers 5.23)", "Python（qwen-vl-utils 0.0.14 + transformers 5.23）"),
    "cli_line": ("Command line", "命令行"),
    "export_view": ("Export", "导出"),
    "export_info": ("The trace as JSON, the tensors as NPZ (pixel_values, grid_thw, input_ids, position_ids, and "
                    "the embeddings once the encoder has run), the token table as CSV. Each figure: the camera "
                    "icon of its toolbar saves a PNG; pictures have a download button.",
                    "Trace 导出为 JSON，张量导出为 NPZ（pixel_values、grid_thw、input_ids、position_ids，编码器运行后"
                    "还有嵌入），token 表导出为 CSV。每张图：工具栏的相机图标可保存 PNG；图片有下载按钮。"),
    "export_run": ("Prepare JSON / NPZ / CSV", "生成 JSON / NPZ / CSV"),
    "export_files": ("Downloads", "下载"),
}


def lang_of(value: str | Lang | None) -> Lang:
    """The Lang of a radio value ("English" / "中文") or a code ("en" / "zh")."""
    if isinstance(value, Lang):
        return value
    if value in LANGS:
        return LANGS[value]
    try:
        return Lang(value)
    except ValueError:
        return Lang.EN


def tr(key: str, lang: Lang | str = Lang.EN, /, **fields) -> str:
    """The word for ``key`` in ``lang``, with ``fields`` filled in (``str.format``; a field may be named ``key``)."""
    en, zh = WORDS[key]
    text = zh if lang_of(lang) is Lang.ZH else en
    return text.format(**fields) if fields else text


# ---- the glance (five cells side by side) and the lesson stepper -----------------------------------
WORDS.update({
    "glance_frames": ("(a) Sampled frames", "(a) 采样帧"),
    "glance_patches": ("(b) Patches, 2×2 merge order", "(b) 补丁，2×2 合并顺序"),
    "glance_time_ids": ("(c) MRoPE time ids", "(c) MRoPE 时间编号"),
    "glance_timestamps": ("(d) Timestamps", "(d) 时间戳"),
    "glance_heatmaps": ("(e) Encoder heatmaps", "(e) 编码器热力图"),
    "g_frames": ("{n} frames", "{n} 帧"),
    "g_frames_image": ("one image, {w}×{h} (duplicated to fill the temporal patch)",
                       "一张图像，{w}×{h}（复制以填满时间补丁）"),
    "g_every": (" · {shown} shown", " · 显示 {shown} 帧"),
    "g_patches": ("t×h×w · g{g}: {n} patches of {p} px → {tok} tokens",
                  "t×h×w · g{g}：{n} 个 {p} 像素补丁 → {tok} 个 token"),
    "g_sel": ("selected g{g} patch ({ph}, {pw}) = row {row}, token {tok}",
              "已选 g{g} 补丁 ({ph}, {pw}) = 第 {row} 行，第 {tok} 个 token"),
    "g_group": ("group", "组"),
    "g_frames_col": ("frames", "帧"),
    "g_tid": ("T id", "T 编号"),
    "g_tpos": ("T pos", "T 位置"),
    "g_sec": ("s", "秒"),
    "g_told": ("told", "告知的时间"),
    "g_time_rule": ("{rule}", "{rule}"),
    "g_rule_image": ("an image: one temporal group, T id 0", "图像：只有一个时间组，T 编号为 0"),
    "g_rule_qwen3": ("Qwen3-VL: each group its own run (T id 0); time goes in the text",
                     "Qwen3-VL：每组单独成段（T 编号 0）；时间写在文本里"),
    "g_rule_qwen25": ("T id = ⌊g × {spg:g} s × {tps}⌋", "T 编号 = ⌊g × {spg:g} 秒 × {tps}⌋"),
    "g_rule_qwen2": ("Qwen2-VL: T id = group index (no seconds)", "Qwen2-VL：T 编号 = 组号（不含秒数）"),
    "g_collide": ("{n} time ids shared by several groups (time_interval < 1)",
                  "{n} 个时间编号被多个组共用（time_interval < 1）"),
    "g_ts_qwen3": ("the <x.x seconds> text before each frame pair", "每对帧之前的 <x.x seconds> 文本"),
    "g_ts_qwen25": ("no text: the seconds its T id encodes (T id / tokens_per_second)",
                    "没有文本：T 编号所代表的秒数（T 编号 / tokens_per_second）"),
    "g_ts_qwen2": ("Qwen2-VL tells no seconds: T id counts groups", "Qwen2-VL 不提供秒数：T 编号只是组序号"),
    "g_ts_image": ("no time (image)", "无时间（图像）"),
    "g_ts_none": ("T id {k}, no seconds", "T 编号 {k}，无秒数"),
    "g_heat_ready": ("{what}", "{what}"),
    "g_heat_missing": ("Not computed yet for these settings: press Run.", "当前设置尚未计算：请点击运行。"),
    "g_heat_run": ("Run encoder for the heatmaps", "运行编码器以得到热力图"),
    "g_heat_what": ("PCA → RGB · {tower}{random}", "PCA → RGB · {tower}{random}"),
    "g_random": (" (random weights)", "（随机权重）"),
    "g_heat_real_on_run": ("· Run fetches the real tower of {repo} ({gb} GB, once) and encodes with it.",
                           "· 点击运行将获取 {repo} 的真实编码器权重（{gb} GB，仅一次）并用它编码。"),
    "details_tab": ("Stage details, encoder, reproduce, export", "各阶段细节、编码器、复现、导出"),
    "controls_tab": ("All settings", "全部设置"),
    "encoder_tab": ("Encoder", "编码器"),
    "compare_tab": ("Compare", "对比"),
    "lesson_tab": ("Lesson", "课程"),
    "gallery_tab": ("Edge cases", "边界案例"),
    "mode_glance": ("At a glance", "一览"),
    "n_prompt_wrapper": ("{d} tokens apart: transformers 5.12 .. 5.23 keep the outer <|vision_start|> … <|vision_end|> "
                         "around the timestamped blocks, the release replaced them; this prompt follows {which}: "
                         "{n} tokens (other: {alt}).",
                         "相差 {d} 个 token：transformers 5.12 .. 5.23 在带时间戳的各块外保留外层 <|vision_start|> … "
                         "<|vision_end|>，发布版去掉了它们；本提示按{which}：{n} 个 token（另一种：{alt}）。"),
    "n_wrap_release": ("the release text (transformers 4.57 / 5.0)", "发布版文本（transformers 4.57 / 5.0）"),
    "n_wrap_kept": ("transformers 5.12+", "transformers 5.12+"),
    "gal_info": ("One click opens a small file with the settings that show its case; the banner, the ledger and "
                 "the glance then show what the reference does with it.",
                 "点击即可用能展示该情况的设置打开一个小文件；横幅、形状总账和一览随即显示参考实现如何处理它。"),
    "gal_tiny": ("Image below the factor", "小于 factor 的图像"),
    "gal_tiny_why": ("smart_resize rounds each side to a multiple of {factor} and then raises the area to min_pixels: "
                     "the {w}×{h} image is UPSCALED to {rw}×{rh} ({tokens} tokens), never rejected.",
                     "smart_resize 把每边取整到 {factor} 的倍数，再把面积提升到 min_pixels：{w}×{h} 的图像被放大到 "
                     "{rw}×{rh}（{tokens} 个 token），不会被拒绝。"),
    "gal_strip": ("A 200:1 strip", "200:1 的长条"),
    "gal_strip_why": ("{ratio} is the largest aspect smart_resize accepts (above it raises a ValueError): the "
                      "{w}×{h} strip becomes {rw}×{rh}, a grid of {rows}×{cols} tokens.",
                      "{ratio} 是 smart_resize 接受的最大长宽比（超过则抛出 ValueError）：{w}×{h} 的长条变为 "
                      "{rw}×{rh}，即 {rows}×{cols} 的 token 网格。"),
    "gal_odd": ("Odd frame count", "奇数帧"),
    "gal_odd_why": ("nframes is rounded to a multiple of {ff} (FRAME_FACTOR) because frames enter in temporal pairs: "
                    "at fps {fps:g}, {n} of the {total} frames are taken, evenly spread, leaving {skipped} out "
                    "(cell a).",
                    "nframes 被取整为 {ff} 的倍数（FRAME_FACTOR），因为帧按时间成对输入：fps {fps:g} 时 {total} 帧中均匀取 "
                    "{n} 帧，因此有 {skipped} 帧被跳过（单元 a）。"),
    "gal_fast": ("High-fps clip on Qwen2.5-VL", "Qwen2.5-VL 上的高帧率片段"),
    "gal_fast_why": ("The {video_fps:g} fps clip sampled at fps {fps:g}: a temporal group lasts {tp}/{sfps:g} = "
                     "{spg:g} s, so its time id steps by {spg:g} × tokens_per_second {tps} = {step:g} < 1: after "
                     "the int cast neighbouring groups COLLIDE on the same time id (cell c: {ids}).",
                     "{video_fps:g} fps 的片段以 fps {fps:g} 采样：一个时间组持续 {tp}/{sfps:g} = {spg:g} 秒，时间编号每组只增加 "
                     "{spg:g} × tokens_per_second {tps} = {step:g} < 1：取整后相邻组共用同一个时间编号（单元 c：{ids}），"
                     "即发生碰撞。"),
    "gal_short": ("A clip shorter than two sampled frames", "短于两帧采样的片段"),
    "gal_short_why": ("This clip has {frames} frame; a video needs at least 2 (one temporal pair): the "
                      "reference raises an error, and so does this page, naming the fix: send the frame as an image.",
                      "此片段只有 {frames} 帧；视频至少需要 2 帧（一个时间对）：参考实现会报错，本页同样报错并给出办法："
                      "把该帧作为图像发送。"),
    "gal_exif": ("EXIF-rotated photo", "带 EXIF 旋转的照片"),
    "gal_exif_why": ("qwen-vl-utils opens the STORED pixels ({w}×{h}) and does not apply the EXIF rotation "
                     "(Orientation {orientation}) that photo viewers show; the model sees the photo on its side.",
                     "qwen-vl-utils 打开的是存储的像素（{w}×{h}），不应用看图软件所用的 EXIF 旋转（Orientation "
                     "{orientation}）；模型看到的是侧躺的照片。"),
    "gal_rgba": ("RGBA logo (transparent background)", "RGBA 标志（透明背景）"),
    "gal_rgba_why": ("The {mode} logo is made RGB on load, and the two loaders disagree: qwen-vl-utils (the official "
                     "recipe shown here) composites it onto white through its alpha, while transformers' load_image "
                     "(processor only) drops the alpha, so the transparent pixels take their stored colour (here "
                     "black). Switch the pipeline to compare.",
                     "{mode} 标志在加载时转为 RGB，两种加载方式结果不同：qwen-vl-utils（此处显示的官方流程）借助 alpha "
                     "把它合成到白底上；transformers 的 load_image（仅 processor）则丢弃 alpha，透明像素变成其存储的颜色"
                     "（此处为黑色）。切换流程即可对比。"),
    "l_prev": ("◀ Previous", "◀ 上一步"),
    "l_next": ("Next ▶", "下一步 ▶"),
    "l_keys": ("← / → keys step too", "也可用 ← / → 键翻页"),
    "l_step": ("Step {k} / {n} · {title}", "第 {k} / {n} 步 · {title}"),
    "l_media": ("Media and metadata", "媒体与元数据"),
    "l_sampling": ("Sampling: FPS vs sample_fps", "采样：FPS 与 sample_fps"),
    "l_resize": ("Smart resize and its budget", "smart_resize 与像素预算"),
    "l_patch": ("Patchify and the 2×2 merge order", "切块与 2×2 合并顺序"),
    "l_prompt": ("Prompt, placeholders and timestamps", "提示、占位符与时间戳"),
    "l_rope": ("MRoPE position ids", "MRoPE 位置编号"),
    "l_encoder": ("The vision encoder", "视觉编码器"),
    "l_sampling_image": ("An image is not sampled: it is one frame, repeated to fill the temporal patch.",
                         "图像不做采样：它只有一帧，复制后填满时间补丁。"),
    "l_sampling_lead": ("`{formula}`\n\n`sample_fps = {n}/{total}·{fps} = {sfps}`",
                        "`{formula}`\n\n`sample_fps = {n}/{total}·{fps} = {sfps}`"),
    "l_resize_lead": ("`{w0}×{h0} → {w}×{h}` (multiples of {f}) · {tok} tokens per temporal group",
                      "`{w0}×{h0} → {w}×{h}`（{f} 的倍数）· 每个时间组 {tok} 个 token"),
    "l_patch_lead": ("`grid_thw = {t}×{h}×{w}` = {n} patches → {n}/({m}·{m}) = {tok} tokens",
                     "`grid_thw = {t}×{h}×{w}` = {n} 个补丁 → {n}/({m}·{m}) = {tok} 个 token"),
    "l_prompt_ts": ("{n} timestamps in the text, `{first}` … `{last}`, one before each frame pair.",
                    "文本中有 {n} 个时间戳，`{first}` … `{last}`，每对帧之前一个。"),
    "l_prompt_lead": ("{n} vision placeholders in the prompt.", "提示中有 {n} 个视觉占位符。"),
    "l_encoder_lead": ("The tower embeds {rows} patch rows, runs its blocks, and the merger joins each {m}×{m} block "
                  "into one of {tokens} tokens. The heatmap colours each token by the PCA of its embedding.",
                  "视觉塔嵌入 {rows} 行补丁，经过各层 block，merger 再把每个 {m}×{m} 块合成 {tokens} 个 token 之一。"
                  "热力图按每个 token 嵌入的 PCA 上色。"),
})


# ---- the ledger's library phrases, in Chinese ----------------------------------------------------------
# trace.ledger writes its formulas in English around the numbers; these patterns give the same text in Chinese
# (identifiers such as max_pixels, sample_fps and function names stay). Order matters: longer phrases first.
LEDGER_ZH: tuple[tuple[str, str], ...] = (
    (r"(\d+) frames @ ([\d.]+) fps = ([\d.]+) s", r"\1 帧 @ \2 fps = \3 秒"),
    (r"scan of the packets", "逐包扫描"),
    (r"container header", "容器文件头"),
    (r"\(packets \(", "（数据包（"),
    (r"one image = one frame, duplicated x(\d+) to fill a temporal patch of (\d+)",
     r"一张图像 = 一帧，复制 x\1 以填满大小为 \2 的时间补丁"),
    (r"(\d+) frames is not a multiple of temporal_patch_size (\d+): the last frame is repeated (\d+)x",
     r"\1 帧不是 temporal_patch_size \2 的倍数：最后一帧重复 \3 次"),
    (r"(\d+) frames = (\d+) temporal groups of (\d+), no padding", r"\1 帧 = \2 个时间组（每组 \3 帧），无填充"),
    (r"(\d+) patches x", r"\1 个补丁 ×"),
    (r"x(\d+) patches x", r"x\1 个补丁 ×"),
    (r"patches x", "个补丁 ×"),
    (r"= (\d+) vision tokens", r"= \1 个视觉 token"),
    (r"(\d+) timestamps", r"\1 个时间戳"),
    (r"(\d+) tokens", r"\1 个 token"),
    (r"; within \[", "；在范围内 ["),
    (r"mode (\w+)", r"模式 \1"),
    (r"s/grid", "秒/组"),
)


class Text(str):
    """Text a stage writes for people (a version note, a decoder difference): a ``str`` in English, as the
    CLI and the library print it, that keeps its word keys and numbers so the page can show it in either
    language (:func:`local`). ``parts``: ``(key, fields)`` pairs or plain strings (numbers, code)."""

    parts: tuple

    def __new__(cls, parts: tuple) -> "Text":
        obj = super().__new__(cls, "".join(_part(p, Lang.EN) for p in parts))
        obj.parts = tuple(parts)
        return obj

    def __reduce__(self):
        return Text, (self.parts,)

    def __add__(self, other: str) -> "Text":  # "a" + "b" keeps both halves translatable
        return Text(self.parts + (other.parts if isinstance(other, Text) else (str(other),)))

    def __radd__(self, other: str) -> "Text":
        return Text(((str(other),) if not isinstance(other, Text) else other.parts) + self.parts)

    def in_lang(self, lang: Lang | str) -> str:
        return "".join(_part(p, lang) for p in self.parts)


def _part(p, lang) -> str:
    if isinstance(p, str):
        return p
    key, fields = p
    return tr(key, lang, **fields)


def say(word: str, /, **fields) -> Text:
    """The word ``key`` with ``fields``, as a :class:`Text` (English when printed)."""
    return Text(((word, fields),))


def local(text, lang: Lang | str) -> str:
    """``text`` in ``lang`` when it is a :class:`Text`; any other value as it is (code, numbers)."""
    if isinstance(text, Text):
        return text.in_lang(lang)
    return text


def join_texts(sep: str, texts) -> Text:
    """``sep.join(texts)`` that keeps each :class:`Text` (``sep`` included) translatable."""
    parts: tuple = ()
    glue = sep.parts if isinstance(sep, Text) else (sep,)
    for k, t in enumerate(texts):
        parts += (glue if k else ()) + (t.parts if isinstance(t, Text) else (str(t),))
    return Text(parts)


# ---- what the stages write for people (versions.py, decoders.py): English as printed, 中文 on the page ----
WORDS.update({
    "vd_resume_how": (" Last vision block: s = {s}, merged grid {grid}, largest time id {tmax}: release resumes at "
                      "s + max({tmax}, {h}, {w}) + 1 = {release}, 5.12+ at s + max(h, w) / merge = {transformers}.",
                      " 最后一个视觉块：s = {s}，合并后网格 {grid}，最大时间编号 {tmax}：release 从 "
                      "s + max({tmax}, {h}, {w}) + 1 = {release} 继续，5.12+ 从 s + max(h, w) / merge = {transformers} 继续。"),
    "vd_resume_differ": ("The two rules differ at {n} tokens: the video's time ids run past its spatial extent, so "
                         "transformers 5.12+ puts the text after the video inside the video's T ids.",
                         "两条规则在 {n} 个 token 上不同：视频的时间编号超出其空间范围，因此 transformers 5.12+ "
                         "把视频之后的文本放进了视频的 T 编号之内。"),
    "vd_resume_same": ("Both rules give the same positions here (the time ids stay within the spatial extent).",
                       "两条规则在此给出相同的位置（时间编号未超出空间范围）。"),
    "vd_release_rule": ("release: max(all ids so far) + 1", "release：max(此前所有编号) + 1"),
    "vd_release_who": ("transformers 4.x and 5.0 (the code the models were released with)",
                       "transformers 4.x 与 5.0（模型发布时的代码）"),
    "vd_transformers_who": ("transformers 5.12 .. 5.23 (get_rope_index rewritten after 5.0; transformers issue "
                            "#45381 reports it in 5.3)",
                            "transformers 5.12 .. 5.23（5.0 之后重写了 get_rope_index；transformers issue #45381 "
                            "在 5.3 中报告）"),
    "vd_outer_replaced": ("replaced: '<t seconds><|vision_start|>pads<|vision_end|>' per temporal group",
                          "被替换：每个时间组写成 '<t seconds><|vision_start|>pads<|vision_end|>'"),
    "vd_outer_replaced_who": ("transformers 4.57 and 5.0 (release)", "transformers 4.57 与 5.0（release）"),
    "vd_outer_kept": ("outer pair kept: '<|vision_start|>' + the blocks + '<|vision_end|>'",
                      "保留外层一对：'<|vision_start|>' + 各块 + '<|vision_end|>'"),
    "vd_outer_expl": ("+2 tokens per video ({n} here); every position after the media shifts by 2.",
                      "每个视频多 2 个 token（此处共 {n} 个）；媒体之后的每个位置都后移 2。"),
    "vd_float_who": ("transformers 4.49 (release) and 5.23 (PR #48669)", "transformers 4.49（release）与 5.23（PR #48669）"),
    "vd_cast_who": ("transformers 4.5x .. 5.0 (int64 cast before multiplying) and 5.12 (int() on the interval); "
                    "QwenLM/Qwen3-VL issue #1282",
                    "transformers 4.5x .. 5.0（相乘前先转成 int64）与 5.12（对间隔取 int()）；QwenLM/Qwen3-VL issue #1282"),
    "vd_cast_changes": ("int() makes it {n}, so the time ids change", "int() 把它变成 {n}，于是时间编号改变"),
    "vd_cast_zero": (" and every group gets time id 0", "，且每个组的时间编号都是 0"),
    "vd_cast_same": ("an integer part that gives the same ids", "其整数部分给出相同的编号"),
    "vd_meta_who": ("transformers 5.0 .. 5.23 with video_metadata (qwen-vl-utils return_video_metadata=True); "
                    "4.49 .. 4.57 with qwen-vl-utils' fps list",
                    "transformers 5.0 .. 5.23 带 video_metadata（qwen-vl-utils return_video_metadata=True）；"
                    "4.49 .. 4.57 使用 qwen-vl-utils 的 fps 列表"),
    "vd_fallback_rule": ("Tp / {fps} (fps fallback)", "Tp / {fps}（fps 回退值）"),
    "vd_fallback_who": ("transformers 5.0 .. 5.23 when frames are passed without video_metadata (a scalar fps "
                        "kwarg is ignored; a list fails validation)",
                        "transformers 5.0 .. 5.23 在传入帧但没有 video_metadata 时（标量 fps 参数被忽略；列表无法通过校验）"),
    "vd_spg_expl": ("{tp} / {sfps} = {spg} s per temporal group, vs {tp} / {fps} = {fb} without metadata.",
                    "每个时间组 {tp} / {sfps} = {spg} 秒；没有元数据时为 {tp} / {fps} = {fb}。"),
    "vd_whole_clip": ("whole-clip budget T*H*W in [{lo}, {hi}] px", "整段预算 T*H*W ∈ [{lo}, {hi}] 像素"),
    "vd_per_frame": ("per-frame budget [{lo}, {hi}] px", "每帧预算 [{lo}, {hi}] 像素"),
    "vd_hub": (" (Hub config)", "（Hub 配置）"),
    "vd_qvu_video": ("qwen-vl-utils: per frame, max(min(768 tokens, total / nframes * 2), 1.05 * min)",
                     "qwen-vl-utils：每帧 max(min(768 tokens, total / nframes * 2), 1.05 * min)"),
    "vd_qvu_who": ("qwen-vl-utils 0.0.14 (official recipe)", "qwen-vl-utils 0.0.14（官方流程）"),
    "vd_qwen2_video_who": ("transformers Qwen2VLVideoProcessor (falls back to the image preprocessor_config size)",
                           "transformers Qwen2VLVideoProcessor（回退到图像 preprocessor_config 的 size）"),
    "vd_cap_rule": ("processor with cap_pixels_per_frame=True (qwen-vl-utils-like per-frame cap)",
                    "processor 加 cap_pixels_per_frame=True（类似 qwen-vl-utils 的每帧上限）"),
    "vd_cap_who": ("transformers 5.2x .. 5.23 opt-in (default off, with a warning)",
                   "transformers 5.2x .. 5.23 可选（默认关闭，开启时有警告）"),
    "vd_image_proc_who": ("transformers image processor alone (load_image applies EXIF orientation)",
                          "仅 transformers 图像处理器（load_image 会应用 EXIF 方向）"),
    "vd_budget_expl": ("Same media and settings through each tool's own resize rule.",
                       "同一媒体与设置，分别经过各工具自己的缩放规则。"),
    "vd_n_even": ("n floored to even", "n 向下取偶数"),
    "vd_odd_ok": ("odd n allowed", "允许奇数 n"),
    "vd_n_tp": ("n floored to a multiple of Tp", "n 向下取 Tp 的倍数"),
    "vd_frames_expl": ("Same fps / nframes request, each tool's own sampling rule.",
                       "同样的 fps / nframes 请求，各工具用自己的采样规则。"),
    "vd_backend_expl": ("qwen-vl-utils 0.0.14 picks torchcodec when installed ($FORCE_QWENVL_VIDEO_READER overrides); "
                        "each backend has its own frame count, fps and rotation. ",
                        "qwen-vl-utils 0.0.14 在已安装时选用 torchcodec（$FORCE_QWENVL_VIDEO_READER 可覆盖）；"
                        "每个后端有自己的帧数、帧率和旋转。"),
    "vd_backend_agree": ("They agree on this file.", "它们在此文件上一致。"),
    "rz_keep": ("kept (each side rounded to the factor)", "保持（每边取整到 factor 的倍数）"),
    "rz_shrink": ("shrink (rounded size over max_pixels)", "缩小（取整后超过 max_pixels）"),
    "rz_grow": ("grow (rounded size under min_pixels)", "放大（取整后低于 min_pixels）"),
    "rs_pil": ("Pillow bicubic (qwen-vl-utils fetch_image)", "Pillow 双三次插值（qwen-vl-utils fetch_image）"),
    "rs_tv1": ("bicubic antialias, float32 round trip (torchvision v1 resize in qwen-vl-utils fetch_video)",
               "双三次抗锯齿，经 float32 往返（qwen-vl-utils fetch_video 中的 torchvision v1 resize）"),
    "rs_tv2": ("bicubic antialias, native uint8 kernel (torchvision v2 resize in the transformers processors)",
               "双三次抗锯齿，原生 uint8 内核（transformers processor 中的 torchvision v2 resize）"),
    "rs_then": (", then ", "，然后 "),
    "rs_none": ("none (already a multiple of the factor)", "无（已是 factor 的倍数）"),
    "md_exif_bad": ("EXIF orientation {o} is not 1..8; ignored", "EXIF 方向 {o} 不在 1..8 之内；已忽略"),
    "md_exif": ("EXIF orientation {o}: qwen-vl-utils ignores it, transformers' load_image applies it",
                "EXIF 方向 {o}：qwen-vl-utils 忽略它，transformers 的 load_image 会应用它"),
    "md_rgba": ("RGBA: qwen-vl-utils composites it on white, transformers' load_image drops the alpha",
                "RGBA：qwen-vl-utils 把它合成到白底上，transformers 的 load_image 则丢弃 alpha"),
    "md_mode": ("mode {mode} converted to RGB by Pillow's convert", "模式 {mode} 由 Pillow 的 convert 转为 RGB"),
    "md_key": ("colour-key transparency {key}: the reference image processor turns pixels of exactly this colour "
               "white (transformers convert_to_rgb), after qwen-vl-utils' resize or before its own",
               "色键透明 {key}：参考图像处理器把恰为此颜色的像素变成白色（transformers convert_to_rgb），"
               "在 qwen-vl-utils 缩放之后或其自身缩放之前"),
    "md_alpha": ("{mode} alpha is dropped by both loaders (only RGBA is composited on white)",
                 "{mode} 的 alpha 被两种加载方式都丢弃（只有 RGBA 会合成到白底上）"),
    "md_clip": ("{mode}: values above 255 are clipped to 255 by Pillow's convert (the references do the same)",
                "{mode}：高于 255 的值被 Pillow 的 convert 截断为 255（参考实现相同）"),
    "tr_exif_applied": ("EXIF orientation {o}: applied (transformers load_image does exif_transpose)",
                        "EXIF 方向 {o}：已应用（transformers load_image 执行 exif_transpose）"),
    "tr_exif_not": ("EXIF orientation {o}: NOT applied (qwen-vl-utils fetch_image opens the stored pixels: the model "
                    "sees them as stored)",
                    "EXIF 方向 {o}：未应用（qwen-vl-utils fetch_image 打开存储的像素：模型看到的就是存储的样子）"),
    "pm_video_only": ("{name} applies to videos only; ignored for this image", "{name} 只用于视频；此图像忽略它"),
    "pm_pipeline_only": ("{name} is read by the {only} pipeline only; the {pipeline} pipeline ignores it",
                         "{name} 只由 {only} 流程读取；{pipeline} 流程忽略它"),
    "pr_outer_note": ("+2 tokens per video ({n} here): transformers 5.12 .. 5.23 keep the outer {start} ... {end} "
                      "around the timestamped blocks, the release replaced them; this prompt follows the {follows}: "
                      "{tokens} tokens (other: {alt})",
                      "每个视频多 2 个 token（此处共 {n} 个）：transformers 5.12 .. 5.23 在带时间戳的块外保留 {start} ... "
                      "{end}，release 版本则把它们替换掉；本提示采用{follows}：{tokens} 个 token（另一种：{alt}）"),
    "pr_follows_new": ("transformers 5.12+ text", " transformers 5.12+ 的文本"),
    "pr_follows_release": ("release text (transformers 4.57 / 5.0)", " release 文本（transformers 4.57 / 5.0）"),
    "dd_fails": ("{b} fails where {a} reads: {error}", "{b} 读取失败，而 {a} 可以读取：{error}"),
    "dd_pair": ("{a} and {b}: ", "{a} 与 {b}："),
    "dd_rounding": (" (float rounding only)", "（仅浮点舍入）"),
    "dd_frames": ("frame count", "帧数"),
    "dd_fps": ("fps", "帧率"),
    "dd_rotation": ("rotation applied", "应用的旋转"),
    "dd_resized": ("resized size", "缩放后尺寸"),
    "dd_tokens": ("vision tokens", "视觉 token 数"),
    "dd_pictures": ("{a} and {b} give different pictures for {n} of {total} sampled frames",
                    "{a} 与 {b} 在 {total} 个采样帧中有 {n} 帧画面不同"),
    "dd_counts": ("{a} samples {na} frames, {b} samples {nb}", "{a} 采样 {na} 帧，{b} 采样 {nb} 帧"),
    "dd_not_emulated": ("{a} and {b}: which picture a seek returns is not emulated on this file; the pictures may "
                        "differ further (see the notes)",
                        "{a} 与 {b}：此文件上未模拟 seek 返回哪一帧画面；画面可能还有更多差异（见说明）"),
    "dd_varies": ("{b} may return later pictures from sampled index {k} on: its decoder thread drops a picture on "
                  "some runs (shown: the run without a drop)",
                  "{b} 从采样索引 {k} 起可能返回更靠后的画面：其解码线程在部分运行中会丢弃一帧（此处显示未丢帧的结果）"),
})
