//! Change notifications for the UI, as a Dart `Stream`.

use tokio::sync::broadcast::error::RecvError;

use crate::api::error::ApiError;
use crate::api::session::TachoCore;
use crate::api::types::CoreEventInfo;
use crate::frb_generated::StreamSink;
use crate::mapping;

impl TachoCore {
    /// Streams every change the core announces (trip started/ended/progress,
    /// timer, data) until Dart cancels the stream. A listener that falls
    /// behind gets one `missed` event and should reload what it shows.
    pub async fn watch_events(&self, sink: StreamSink<CoreEventInfo>) -> Result<(), ApiError> {
        let mut events = self.core.subscribe();
        tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event.into(),
                    Err(RecvError::Lagged(_)) => mapping::missed_event(),
                    Err(RecvError::Closed) => break,
                };
                // An error means Dart closed the stream: stop forwarding.
                if sink.add(event).is_err() {
                    break;
                }
            }
        });
        Ok(())
    }
}
