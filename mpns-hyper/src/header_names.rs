//! The MPNS header names as hyper values, built at compile time
//! (`HeaderName::from_static` called at run time checks its argument on
//! every call). Shared by the client and the emulator.

use hyper::header::HeaderName;

pub(crate) const TARGET: HeaderName = HeaderName::from_static("x-windowsphone-target");
pub(crate) const NOTIFICATION_CLASS: HeaderName = HeaderName::from_static("x-notificationclass");
pub(crate) const MESSAGE_ID: HeaderName = HeaderName::from_static("x-messageid");
pub(crate) const CALLBACK_URI: HeaderName = HeaderName::from_static("x-callbackuri");
pub(crate) const NOTIFICATION_STATUS: HeaderName = HeaderName::from_static("x-notificationstatus");
pub(crate) const SUBSCRIPTION_STATUS: HeaderName = HeaderName::from_static("x-subscriptionstatus");
pub(crate) const DEVICE_CONNECTION_STATUS: HeaderName =
    HeaderName::from_static("x-deviceconnectionstatus");
