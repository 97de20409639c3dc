"""The fal video endpoints the adapter can fill in, each model's input schema as data (its fal.ai model page).

A catalogue names an endpoint by its text-to-video model id; an image request goes to the same model's
image-to-video endpoint, which lives in the same app (so status, result and cancel share one URL)."""

from __future__ import annotations

import msgspec


class InputSchema(msgspec.Struct, frozen=True, kw_only=True):
    """How one fal model names and spells its inputs. `sizes` maps a canonical WxH to its `(resolution,
    aspect_ratio)` values (None where the model has no such field); `durations` maps seconds to the wire value."""

    image_to_video: str | None = None  # the model id taking `image_url`
    durations: dict[int, str | int]
    sizes: dict[str, tuple[str | None, str]]
    aspect_on_image: bool = False  # the image-to-video endpoint takes `aspect_ratio` too
    end_image_field: str | None = None  # the image-to-video field for a last frame
    negative_prompt: bool = True
    seed: bool = False
    audio_field: str | None = None  # a boolean that turns generated audio on
    prompt_expansion_field: str | None = None  # a boolean that turns the model's own prompt rewriting on
    max_prompt_chars: int | None = None


# https://fal.ai/models/fal-ai/kling-video/v2.5-turbo/pro/text-to-video and .../image-to-video (llms.txt):
# duration "5"|"10"; aspect_ratio 16:9|9:16|1:1 (text only); negative_prompt; cfg_scale; `tail_image_url` on i2v.
# The pixel size is not documented, only the ratio: 1080p is [inference] (docs/providers.md §fal).
KLING_25_TURBO_PRO = InputSchema(
    image_to_video="fal-ai/kling-video/v2.5-turbo/pro/image-to-video",
    durations={5: "5", 10: "10"},
    sizes={"1920x1080": (None, "16:9"), "1080x1920": (None, "9:16"), "1080x1080": (None, "1:1")},
    end_image_field="tail_image_url",
)

# https://fal.ai/models/fal-ai/wan-25-preview/text-to-video and .../image-to-video (llms.txt): duration "5"|"10";
# resolution 480p|720p|1080p; aspect_ratio 16:9|9:16|1:1 (text only); negative_prompt (max 500 chars); seed;
# enable_prompt_expansion (default true); prompt max 800 characters.
WAN_25 = InputSchema(
    image_to_video="fal-ai/wan-25-preview/image-to-video",
    durations={5: "5", 10: "10"},
    sizes={
        f"{w}x{h}": (resolution, aspect)
        for resolution, long, short in (("480p", 832, 480), ("720p", 1280, 720), ("1080p", 1920, 1080))
        for aspect, (w, h) in (("16:9", (long, short)), ("9:16", (short, long)), ("1:1", (short, short)))
    },
    seed=True,
    prompt_expansion_field="enable_prompt_expansion",
    max_prompt_chars=800,
)

# https://fal.ai/models/fal-ai/veo3.1/fast (and /fast/image-to-video): duration "4s"|"6s"|"8s"; aspect_ratio
# 16:9|9:16 (i2v also "auto"); resolution 720p|1080p|4k; generate_audio (default true); negative_prompt; seed.
VEO_31_FAST = InputSchema(
    image_to_video="fal-ai/veo3.1/fast/image-to-video",
    durations={4: "4s", 6: "6s", 8: "8s"},
    sizes={
        "1280x720": ("720p", "16:9"),
        "720x1280": ("720p", "9:16"),
        "1920x1080": ("1080p", "16:9"),
        "1080x1920": ("1080p", "9:16"),
    },
    aspect_on_image=True,
    seed=True,
    audio_field="generate_audio",
)

# https://fal.ai/models/fal-ai/ltx-2/text-to-video/fast (mirrored at eachlabs.ai ltx-v-2-text-to-video-fast/llms.txt)
# and .../image-to-video/fast: duration an integer 6-20 (over 10 only at 25 fps and 1080p; fps is left at its default
# 25); resolution 1080p|1440p|2160p; aspect_ratio 16:9; generate_audio (default true). Only 1080p 16:9 is offered.
LTX_2_FAST = InputSchema(
    image_to_video="fal-ai/ltx-2/image-to-video/fast",
    durations={seconds: seconds for seconds in range(6, 21, 2)},
    sizes={"1920x1080": ("1080p", "16:9")},
    negative_prompt=False,
    audio_field="generate_audio",
)

ENDPOINTS: dict[str, InputSchema] = {
    "fal-ai/kling-video/v2.5-turbo/pro/text-to-video": KLING_25_TURBO_PRO,
    "fal-ai/wan-25-preview/text-to-video": WAN_25,
    "fal-ai/veo3.1/fast": VEO_31_FAST,
    "fal-ai/ltx-2/text-to-video/fast": LTX_2_FAST,
}
