//! Toast encoding from arbitrary text: a typed refusal, or a request whose
//! length is exactly what was announced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpns_proto::{ChannelUri, Notification, Options, Request, Toast};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\u{1e}');
    let toast = Notification::Toast(Toast {
        text1: parts.next(),
        text2: parts.next(),
        param: parts.next(),
        sound: None,
    });
    let channel = ChannelUri::parse("http://127.0.0.1:1/throttledthirdparty/01.00/f").unwrap();
    if let Ok(request) = Request::notification(channel, &toast, &Options::default()) {
        let mut buf = [0u8; 8192];
        let len = request.write_http(&mut buf).unwrap();
        assert_eq!(len, request.http_len());
        assert_eq!(toast.encoded_len(&Options::default()).unwrap(), request.body_len());
    }
});
