//! A toast and a flip tile as the exact bytes of their MPNS requests.
//!
//! `cargo run -p mpns-proto --example encode`

use mpns_proto::{
    ChannelUri, Field, FlipTile, Notification, Options, Request, Tile, TileTemplate, Toast,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let channel =
        ChannelUri::parse("http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ")?;
    let toast = Notification::Toast(Toast {
        text1: Some("Tom & Jerry"),
        text2: Some("are <here>"),
        param: Some("/Page2.xaml?from=toast"),
        ..Toast::default()
    });
    let tile = Notification::Tile(Tile {
        id: None,
        template: TileTemplate::Flip(FlipTile {
            title: Field::Set("Inbox"),
            count: Field::Set(3),
            back_content: Field::Set("3 new messages"),
            ..FlipTile::default()
        }),
    });
    // Every request needs at most `http_len` bytes; a stack buffer does.
    let mut buf = [0u8; 4096];
    for notification in [&toast, &tile] {
        let request = Request::notification(channel, notification, &Options::default())?;
        let n = request.write_http(&mut buf)?;
        println!("{}\n", String::from_utf8_lossy(&buf[..n]));
    }
    // A refusal names the field and the reason.
    let bad = Notification::Toast(Toast {
        text1: Some("bell \u{7}"),
        ..Toast::default()
    });
    match Request::notification(channel, &bad, &Options::default()) {
        Err(e) => println!("refused: {e}"),
        Ok(_) => unreachable!("a control character is not XML 1.0"),
    }
    Ok(())
}
