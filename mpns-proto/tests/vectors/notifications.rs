//! The notification and options of each request vector of
//! `requests.jsonl` (what its `args` say), in one place for every reader of
//! the vectors: `mpns-proto/tests/encode.rs`, the benchmarks, the fuzz
//! seeds and the firmware that checks the vectors on a Cortex-M4 (so it
//! stays `no_std`: no allocation). Included with `#[path]`.

use mpns_proto::{
    Delivery, Field, FlipTile, MessageId, Notification, Options, Raw, StandardTile, Tile,
    TileTemplate, Toast,
};

/// The notification and options of the vector `case`; `None` for a case
/// not listed here (a reader fails on it).
pub(crate) fn notification(case: &str) -> Option<(Notification<'static>, Options<'static>)> {
    static R1025: [u8; 1025] = [b'r'; 1025];
    let toast = |text1, text2, param| {
        Notification::Toast(Toast {
            text1: Some(text1),
            text2,
            param,
            ..Toast::default()
        })
    };
    let standard = |tile| {
        Notification::Tile(Tile {
            id: None,
            template: TileTemplate::Standard(tile),
        })
    };
    let plain = Options::default();
    Some(match case {
        "toast_basic" => (
            toast(
                "Bold Text",
                Some("Normal text"),
                Some("/Page2.xaml?NavigatedFrom=Toast"),
            ),
            plain,
        ),
        "toast_delivery_900_msgid" => (
            toast("x", None, None),
            Options {
                delivery: Delivery::Within900s,
                message_id: Some(MessageId::parse("3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f").ok()?),
                ..Options::default()
            },
        ),
        "tile_standard_count0" => (
            standard(StandardTile {
                count: Field::Set(0),
                title: Field::Set("Zero"),
                ..Default::default()
            }),
            plain,
        ),
        "tile_standard_clear" => (
            standard(StandardTile {
                title: Field::Set("Keep"),
                count: Field::Clear,
                back_content: Field::Clear,
                ..Default::default()
            }),
            plain,
        ),
        "tile_flip_full" => (
            Notification::Tile(Tile {
                id: Some("/F.xaml"),
                template: TileTemplate::Flip(FlipTile {
                    small_background_image: Field::Set("/s.png"),
                    wide_background_image: Field::Set("/w.png"),
                    wide_back_background_image: Field::Set("/wb.png"),
                    wide_back_content: Field::Set("wide back"),
                    background_image: Field::Set("/m.png"),
                    count: Field::Set(12),
                    title: Field::Set("Flip"),
                    back_background_image: Field::Set("/mb.png"),
                    back_title: Field::Set("bt"),
                    back_content: Field::Set("bc"),
                }),
            }),
            plain,
        ),
        "raw_text" | "raw_voip" | "refuse_raw_1025" => {
            let (body, voip): (&'static [u8], bool) = match case {
                "raw_text" => (b"<root><v>1</v></root>", false),
                "raw_voip" => (b"<IncomingCall/>", true),
                _ => (&R1025, false),
            };
            (Notification::Raw(Raw { body, voip }), plain)
        }
        "refuse_count_100" => (
            standard(StandardTile {
                count: Field::Set(100),
                ..Default::default()
            }),
            plain,
        ),
        "refuse_wns_uri" => (toast("a", None, None), plain),
        _ => return None,
    })
}
