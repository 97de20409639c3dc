"""Capability matching on its own (routing/capabilities.py): every gap between a request and an offering's
capability data, with its reason; what best effort drops; the clip length billed. Never a clamp."""

from __future__ import annotations

import msgspec
import pytest

from providers.contract import (
    Audio,
    Capabilities,
    ContentCredentials,
    Dimensions,
    GenerationRequest,
    ImageData,
    ImageUrl,
    Music,
    Scene,
    VideoData,
    VideoInput,
    VideoUrl,
    WatermarkOverlay,
)
from routing.capabilities import Gap, capability_gaps, resolved_seconds, typical_seconds, without

T2V = Capabilities(modes=frozenset({"t2v"}), seconds=frozenset({4, 8}), default_seconds=4)
PNG = ImageData(mime_type="image/png", data=b"\x89PNG" + b"\0" * 96, digest="0" * 64)  # 100 bytes


def request(*scenes: Scene, **fields: object) -> GenerationRequest:
    return GenerationRequest(upstream_model="m", scenes=scenes or (Scene(prompt="a fox"),), **fields)  # type: ignore[arg-type]


def every_option() -> GenerationRequest:
    """A t2v request asking for every option an offering may lack."""
    return request(
        Scene(prompt="a", negative_terms=("blur",)),
        seed=1,
        audio=Audio(prompt="rain", negative_prompt="wind"),
        music=Music(),
        enhance_prompt=True,
        watermark=True,
    )


def gaps(req: GenerationRequest, caps: Capabilities = T2V) -> list[tuple[str, str]]:
    return [(g.field, g.reason) for g in capability_gaps(req, caps)]


def test_a_request_the_offering_covers_has_no_gap() -> None:
    """t2v, an offered length, no options: nothing to report."""
    assert gaps(request(seconds=8)) == []
    assert gaps(request()) == []  # the default length


def test_a_mode_or_scene_count_the_offering_lacks_is_a_gap_naming_what_it_offers() -> None:
    """An i2v request to a t2v-only offering, and two scenes where one is allowed, each give their reason."""
    assert gaps(request(Scene(prompt="a", image=ImageUrl(url="https://x/a.png")))) == [
        ("mode", "mode i2v not offered (offers ['t2v'])")
    ]
    two = request(Scene(prompt="a"), Scene(prompt="b"), multi_scene=False)
    assert gaps(two) == [("scenes", "2 scenes exceed the 1 allowed")]
    assert gaps(two, Capabilities(modes=frozenset({"t2v"}), max_scenes=2, default_seconds=4)) == []


def test_a_length_not_offered_or_not_given_is_a_gap() -> None:
    """6 s where 4 and 8 are offered; no length at all where the offering has no default."""
    assert gaps(request(seconds=6)) == [("seconds", "6 s not offered (offers [4, 8])")]
    no_default = Capabilities(modes=frozenset({"t2v"}), seconds=frozenset({4}))
    assert gaps(request(), no_default) == [("seconds", "no default length: give `seconds`")]
    any_length = Capabilities(modes=frozenset({"t2v"}), default_seconds=5)
    assert gaps(request(seconds=17), any_length) == []


def test_scenes_of_a_fixed_length_must_add_up() -> None:
    """Vidgen-like 5 s scenes: two scenes make 10 s; 8 s, or a scene of its own length, is a gap."""
    caps = Capabilities(modes=frozenset({"t2v", "multi_scene"}), seconds_per_scene=5, max_scenes=5)
    two = (Scene(prompt="a"), Scene(prompt="b"))

    assert gaps(request(*two, multi_scene=True), caps) == []
    assert gaps(request(*two, multi_scene=True, seconds=10), caps) == []
    assert gaps(request(*two, multi_scene=True, seconds=8), caps) == [
        ("seconds", "8 s not offered (scenes are 5 s each: 10 s for this request)")
    ]
    odd = (Scene(prompt="a", seconds=3), Scene(prompt="b", seconds=5))
    assert [g[0] for g in gaps(request(*odd, multi_scene=True), caps)] == ["seconds"]
    assert gaps(request(Scene(prompt="a", seconds=5)), caps) == []


def test_a_size_is_offered_by_name_or_by_a_range_and_multiple() -> None:
    """A listed size passes; otherwise both sides must lie in the range and be multiples of the step."""
    listed = Capabilities(modes=frozenset({"t2v"}), default_seconds=4, sizes=frozenset({"1280x720"}))
    ranged = Capabilities(modes=frozenset({"t2v"}), default_seconds=4, size_range=(256, 1024), size_multiple=32)

    assert gaps(request(dimensions=Dimensions(width=1280, height=720)), listed) == []
    assert gaps(request(dimensions=Dimensions(width=720, height=1280)), listed) == [
        ("size", "size 720x1280 not offered")
    ]
    for width, height, ok in [
        (256, 1024, True),
        (512, 512, True),
        (255, 512, False),
        (512, 1025, False),
        (1056, 512, False),
        (500, 512, False),
        (512, 500, False),
    ]:
        found = gaps(request(dimensions=Dimensions(width=width, height=height)), ranged)
        assert (found == []) is ok, (width, height, found)


def test_images_must_come_by_an_accepted_transport_and_within_the_size_limit() -> None:
    """A data URI where only URLs are taken is one gap however many images; an image over the byte limit is one."""
    url_only = Capabilities(
        modes=frozenset({"i2v", "reference"}), default_seconds=4, image_transports=frozenset({"url"})
    )
    two_inline = request(Scene(prompt="a", image=PNG), reference_images=(PNG,))
    assert gaps(two_inline, url_only) == [("image", "images as data_uri not accepted")]
    assert gaps(request(Scene(prompt="a", image=ImageUrl(url="https://x/a.png"))), url_only) == []

    small = Capabilities(modes=frozenset({"i2v"}), default_seconds=4, max_image_bytes=100)
    smaller = Capabilities(modes=frozenset({"i2v"}), default_seconds=4, max_image_bytes=99)
    assert gaps(request(Scene(prompt="a", image=PNG)), small) == []
    assert gaps(request(Scene(prompt="a", image=PNG)), smaller) == [("image", "an image exceeds 99 bytes")]
    assert gaps(request(Scene(prompt="a", image=ImageUrl(url="https://x/a.png"))), smaller) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"seed": 7}, "seed"),
        ({"audio": Audio()}, "audio"),
        ({"music": Music()}, "music"),
        ({"enhance_prompt": True}, "enhance_prompt"),
        ({"watermark": False}, "watermark"),
    ],
)
def test_an_option_the_offering_lacks_is_a_droppable_gap(fields: dict[str, object], field: str) -> None:
    """Each option asked of an offering without it is a gap named after it, which best effort may drop."""
    [gap] = capability_gaps(request(**fields), T2V)
    assert (gap.field, gap.reason, gap.droppable) == (field, f"{field} not supported", True)


def test_options_switched_off_or_offered_are_no_gap() -> None:
    """Audio or music sent as disabled asks for nothing; an offering with every option takes them all."""
    assert gaps(request(audio=Audio(enabled=False, prompt="rain"), music=Music(enabled=False))) == []
    everything = Capabilities(
        modes=frozenset({"t2v"}),
        default_seconds=4,
        seed=True,
        audio=True,
        audio_prompt=True,
        audio_negative_prompt=True,
        music=True,
        negative_prompt=True,
        enhance_prompt=True,
        watermark_control=True,
    )
    asked = every_option()
    assert gaps(asked, everything) == []
    assert [g[0] for g in gaps(asked)] == [
        "seed",
        "audio",
        "audio_prompt",
        "audio_negative_prompt",
        "music",
        "negative_prompt",
        "enhance_prompt",
        "watermark",
    ]


def test_best_effort_drops_exactly_the_fields_named() -> None:
    """`without` clears each dropped option and keeps everything else, the audio switch included when only its
    prompts go."""
    asked = every_option()
    dropped = without(asked, [Gap(field=f, reason="") for f in ("seed", "music", "enhance_prompt", "watermark")])
    assert (dropped.seed, dropped.music, dropped.enhance_prompt, dropped.watermark) == (None, None, False, None)
    assert dropped.audio == asked.audio
    assert dropped.scenes == asked.scenes

    prompts = without(asked, [Gap(field="audio_prompt", reason=""), Gap(field="negative_prompt", reason="")])
    assert prompts.audio == Audio(prompt=None, negative_prompt="wind")
    assert prompts.scenes[0].negative_terms == ()
    assert prompts.seed == 1
    assert without(asked, [Gap(field="audio_negative_prompt", reason="")]).audio == Audio(prompt="rain")
    assert without(asked, [Gap(field="audio", reason="")]).audio is None
    assert without(asked, []) == asked
    assert not Gap(field="size", reason="").droppable


def test_the_billed_length_is_the_request_s_else_the_scenes_else_the_default() -> None:
    """resolved_seconds: what the request names, else scenes x their fixed length, else the default; the
    typical length of an offering follows the same order, then its shortest length."""
    per_scene = Capabilities(modes=frozenset({"multi_scene"}), seconds_per_scene=5, max_scenes=3, default_seconds=9)
    three = request(Scene(prompt="a"), Scene(prompt="b"), Scene(prompt="c"), multi_scene=True)

    assert resolved_seconds(three, per_scene) == 15
    assert resolved_seconds(request(seconds=8), T2V) == 8
    assert resolved_seconds(request(), T2V) == 4
    assert resolved_seconds(request(), Capabilities(modes=frozenset({"t2v"}))) is None
    assert typical_seconds(T2V) == 4
    assert typical_seconds(Capabilities(modes=frozenset({"t2v"}), seconds_per_scene=5)) == 5
    assert typical_seconds(Capabilities(modes=frozenset({"t2v"}), seconds=frozenset({10, 6, 8}))) == 6
    assert typical_seconds(Capabilities(modes=frozenset({"t2v"}))) == 0


EDITOR = Capabilities(
    video_operations=frozenset({"edit", "extend"}),
    video_transports=frozenset({"url"}),
    max_source_seconds=10,
    max_source_bytes=100,
    seconds=frozenset({5}),
    default_seconds=5,
)
CLIP_URL = VideoUrl(url="https://x/clip.mp4")
CLIP_DATA = VideoData(mime_type="video/mp4", data=b"\0" * 100, digest="2" * 64)


def video(
    operation: str, clip: VideoUrl | VideoData = CLIP_URL, *, source_s: int = 8, **fields: object
) -> GenerationRequest:
    source = VideoInput(operation=operation, video=clip, source_seconds=source_s)  # type: ignore[arg-type]
    return request(video_input=source, **fields)


def test_a_source_video_needs_its_operation_transport_length_and_size_offered() -> None:
    """Each limit of a video-to-video offering is its own gap, with its reason; within them there is none."""
    assert gaps(video("edit"), EDITOR) == []
    assert gaps(video("remix"), EDITOR) == [("operation", "operation remix not offered (offers edit, extend)")]
    assert gaps(video("edit"), T2V) == [("operation", "operation edit not offered (offers none)")]
    assert gaps(video("edit", CLIP_DATA), EDITOR) == [("video", "a source video as data not accepted (takes url)")]
    assert gaps(video("edit", source_s=10), EDITOR) == []
    assert gaps(video("edit", source_s=11), EDITOR) == [("video", "a 11 s source exceeds the 10 s allowed")]
    uploads = msgspec.structs.replace(EDITOR, video_transports=frozenset({"upload"}), max_source_bytes=99)
    assert gaps(video("edit", CLIP_DATA), uploads) == [("video", "the source video exceeds 99 bytes")]
    assert gaps(video("edit", CLIP_URL), uploads) == []  # a link is fetched by the adapter, whatever its size
    data_only = msgspec.structs.replace(EDITOR, video_transports=frozenset({"data"}), max_source_bytes=None)
    assert gaps(video("edit", CLIP_URL), data_only) == []
    assert gaps(video("edit", CLIP_DATA), data_only) == []


def test_an_offering_that_only_transforms_videos_refuses_a_plain_request() -> None:
    """Without modes, a request with no source video is a mode gap naming the operations it takes."""
    assert gaps(request(), EDITOR) == [("mode", "takes only a source video (edit, extend)")]


def test_only_an_extension_asks_for_a_length() -> None:
    """An edit keeps its source's length (no seconds gap even at a length not offered); an extension's added
    seconds must be offered."""
    assert gaps(video("edit", seconds=7), EDITOR) == []
    assert gaps(video("extend", seconds=7), EDITOR) == [("seconds", "7 s not offered (offers [5])")]
    assert gaps(video("extend", seconds=5), EDITOR) == []


def test_where_the_provider_picks_the_length_only_its_default_may_be_asked() -> None:
    """`seconds_control = false`: no length, or the default, passes; any other, on the request or a scene, is a gap."""
    picks = Capabilities(modes=frozenset({"t2v"}), default_seconds=8, seconds_control=False)
    reason = "the provider picks the length (8 s typical)"
    assert gaps(request(), picks) == []
    assert gaps(request(seconds=8), picks) == []
    assert gaps(request(seconds=5), picks) == [("seconds", reason)]
    assert gaps(request(Scene(prompt="a", seconds=8)), picks) == [("seconds", reason)]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"watermark_overlay": WatermarkOverlay()}, "watermark_overlay"),
        ({"content_credentials": ContentCredentials()}, "content_credentials"),
        ({"upscale": True}, "upscale"),
        ({"temporary_output": True}, "temporary_output"),
        ({"camera_fixed": False}, "camera_fixed"),
    ],
)
def test_the_newer_options_are_gaps_where_not_offered(fields: dict[str, object], field: str) -> None:
    """Each option named after itself; all but upscaling may be dropped in best effort."""
    [gap] = capability_gaps(request(**fields), T2V)
    assert (gap.field, gap.reason, gap.droppable) == (field, f"{field} not supported", field != "upscale")


def test_more_results_than_offered_is_a_gap_on_n() -> None:
    """Two videos per call where one is offered: a gap on `n`; up to the offered count, none."""
    assert gaps(request(results=2)) == [("n", "2 results per call exceed the 1 offered")]
    assert gaps(request(results=2), msgspec.structs.replace(T2V, max_results=2)) == []


def test_best_effort_drops_the_newer_options_to_their_defaults() -> None:
    """Overlay, credentials and fixed camera become None, a temporary output False; audio without prompts stays."""
    asked = request(
        watermark_overlay=WatermarkOverlay(),
        content_credentials=ContentCredentials(),
        camera_fixed=True,
        temporary_output=True,
        audio=Audio(),
    )
    named = [
        Gap(field=f, reason="")
        for f in ("watermark_overlay", "content_credentials", "camera_fixed", "temporary_output")
    ]
    dropped = without(asked, named)
    assert (dropped.watermark_overlay, dropped.content_credentials, dropped.camera_fixed) == (None, None, None)
    assert dropped.temporary_output is False
    assert dropped.audio == Audio()
    assert without(request(), [Gap(field="audio_prompt", reason="")]).audio is None
