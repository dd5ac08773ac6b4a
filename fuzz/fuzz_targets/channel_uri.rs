//! Channel URI parsing: never panics; an accepted URI has no byte that could
//! break a request line, and its parts rebuild the request target.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpns_proto::ChannelUri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(channel) = ChannelUri::parse(text) {
        assert!(text.len() <= mpns_proto::uri::MAX_CHANNEL_URI_LEN);
        assert!(text.bytes().all(|b| (0x21..0x7f).contains(&b)));
        let target = channel.request_target();
        assert!(target.parts()[0].starts_with('/') || target.parts()[0].is_empty());
        assert!(!channel.host().is_empty());
        assert!(text.ends_with(channel.uri().query()));
    }
});
