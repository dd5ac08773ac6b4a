//! The `serde` feature: the model and options as JSON (borrowing strings) and
//! as postcard, so a gateway can take notifications from either.
#![cfg(feature = "serde")]

use mpns_proto::{
    Delivery, Field, MessageId, Notification, Options, Raw, Sound, StandardTile, TargetOs, Tile,
    TileTemplate, Toast,
};

#[test]
fn toast_from_json_borrows_its_strings() {
    let json = r#"{"toast":{"text1":"Bold Text","text2":"Normal","param":"/P.xaml?a=1","sound":"silent"}}"#;
    let n: Notification<'_> = serde_json::from_str(json).unwrap();
    let Notification::Toast(t) = n else {
        panic!("{n:?}")
    };
    assert_eq!(t.text1, Some("Bold Text"));
    assert_eq!(t.sound, Some(Sound::Silent));
    // Borrowed from the input, not copied.
    assert!(json.as_ptr() as usize <= t.text1.unwrap().as_ptr() as usize);
    let file: Notification<'_> =
        serde_json::from_str(r#"{"toast":{"text1":"a","sound":{"file":"/d.wav"}}}"#).unwrap();
    assert_eq!(
        file,
        Notification::Toast(Toast {
            text1: Some("a"),
            sound: Some(Sound::File("/d.wav")),
            ..Toast::default()
        })
    );
}

#[test]
fn tile_fields_are_value_null_or_clear_in_json() {
    let json = r#"{"tile":{"id":"/S.xaml","template":{"standard":{"title":"T","count":0,"back_content":{"action":"clear"},"back_title":null}}}}"#;
    let n: Notification<'_> = serde_json::from_str(json).unwrap();
    let want = Notification::Tile(Tile {
        id: Some("/S.xaml"),
        template: TileTemplate::Standard(StandardTile {
            title: Field::Set("T"),
            count: Field::Set(0),
            back_content: Field::Clear,
            ..Default::default()
        }),
    });
    assert_eq!(n, want);
    // Serializing gives the same forms back.
    let out = serde_json::to_string(&want).unwrap();
    assert!(
        out.contains(r#""count":0"#)
            && out.contains(r#""back_content":{"action":"clear"}"#)
            && out.contains(r#""background_image":null"#),
        "{out}"
    );
    assert_eq!(
        serde_json::from_str::<Notification<'_>>(&out).unwrap(),
        want
    );
}

#[test]
fn json_refusals_are_typed_errors() {
    for bad in [
        r#"{"tile":{"template":{"standard":{"count":300}}}}"#,
        r#"{"tile":{"template":{"standard":{"count":-1}}}}"#,
        r#"{"tile":{"template":{"standard":{"title":{"action":"wipe"}}}}}"#,
        r#"{"toast":{"text3":"x"}}"#,
        r#"{"fax":{}}"#,
    ] {
        assert!(
            serde_json::from_str::<Notification<'_>>(bad).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn raw_body_is_text_in_json_and_bytes_in_postcard() {
    let n: Notification<'_> =
        serde_json::from_str(r#"{"raw":{"body":"<v>1</v>","voip":true}}"#).unwrap();
    assert_eq!(
        n,
        Notification::Raw(Raw {
            body: b"<v>1</v>",
            voip: true
        })
    );
    let binary = Notification::Raw(Raw {
        body: &[0, 159, 146, 150],
        voip: false,
    });
    assert!(
        serde_json::to_string(&binary).is_err(),
        "not UTF-8: JSON cannot carry it"
    );
    let bytes = postcard::to_allocvec(&binary).unwrap();
    assert_eq!(
        postcard::from_bytes::<Notification<'_>>(&bytes).unwrap(),
        binary
    );
}

#[test]
fn options_in_json() {
    let json = r#"{"delivery":"900","message_id":"3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f","target_os":"7.1","limits":{"payload":1024}}"#;
    let o: Options<'_> = serde_json::from_str(json).unwrap();
    assert_eq!(o.delivery, Delivery::Within900s);
    assert_eq!(
        o.message_id,
        Some(MessageId::parse("3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f").unwrap())
    );
    assert_eq!(o.target_os, TargetOs::Wp71);
    assert_eq!(o.limits.payload, 1024);
    assert_eq!(o.limits.raw, 1024, "unset limits keep their defaults");
    assert_eq!(
        serde_json::from_str::<Options<'_>>("{}").unwrap(),
        Options::default()
    );
    assert!(serde_json::from_str::<Options<'_>>(r#"{"message_id":"nope"}"#).is_err());
    assert!(serde_json::from_str::<Options<'_>>(r#"{"target_os":"6.5"}"#).is_err());
}

#[test]
fn postcard_round_trip_of_every_kind() {
    let mut cycle = mpns_proto::CycleTile::default();
    cycle.cycle_images[3] = Field::Set("/4.png");
    cycle.count = Field::Clear;
    let all = [
        Notification::Toast(Toast {
            text1: Some("a"),
            param: Some("/p"),
            sound: Some(Sound::File("/s.wav")),
            ..Toast::default()
        }),
        Notification::Tile(Tile {
            id: Some("/c"),
            template: TileTemplate::Cycle(cycle),
        }),
        Notification::Raw(Raw {
            body: b"\x00\xff",
            voip: true,
        }),
    ];
    for n in all {
        let bytes = postcard::to_allocvec(&n).unwrap();
        assert_eq!(postcard::from_bytes::<Notification<'_>>(&bytes).unwrap(), n);
    }
    let o = Options {
        delivery: Delivery::Within450s,
        message_id: Some(MessageId([7; 16])),
        callback_uri: Some("https://e/cb"),
        ..Options::default()
    };
    let bytes = postcard::to_allocvec(&o).unwrap();
    assert_eq!(postcard::from_bytes::<Options<'_>>(&bytes).unwrap(), o);
}
