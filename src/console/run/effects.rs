//! Effects carried out for the loop: each becomes a task that asks the engine (through
//! the `Engine` trait), the composer's sender or the saved-request files, and answers
//! with one [`Msg`]. Grouped by what they reach: the engine's history and delivery, and
//! the composer's ways out. What needs the terminal is the loop's (`run::Host`).

use crate::client::Engine;
use crate::client::send::Sender;
use crate::client::wire::{NewKey, NewKeyKind};
use crate::console::app::{CreateKind, Effect, HISTORY_PAGE, Msg};
use crate::console::collection;
use crate::model::filter::Filter;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long quitting waits for effects in flight (a send, a save) to finish.
pub const EFFECTS_DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Carries out effects; remembers the feed subscription so a new one replaces it.
pub(super) struct Effects {
    pub client: Arc<dyn Engine>,
    pub tx: mpsc::Sender<Msg>,
    pub subscription: Option<JoinHandle<()>>,
    pub sender: Arc<Sender>,
    /// Where saved requests are written.
    pub collection: std::path::PathBuf,
    /// Every task the console starts; they end on `stop`, and quitting waits for them.
    pub tasks: TaskTracker,
    pub stop: CancellationToken,
}

impl Drop for Effects {
    /// Every exit path, errors included, ends the console's tasks.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Effects {
    fn spawn<F>(&self, work: F)
    where
        F: std::future::Future<Output = Option<Msg>> + Send + 'static,
    {
        let (tx, stop) = (self.tx.clone(), self.stop.clone());
        self.tasks.spawn(async move {
            let msg = tokio::select! {
                msg = work => msg,
                () = stop.cancelled() => None,
            };
            if let Some(msg) = msg {
                let _ = tx.send(msg).await;
            }
        });
    }

    /// Quitting: ends the tasks and waits (bounded) for them.
    pub async fn finish(&self) {
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(EFFECTS_DRAIN, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = self.tasks.len(),
                "console tasks did not end in time"
            );
        }
    }

    /// Returns false on Quit. Every effect is named here, so a new one is routed on
    /// purpose (the compiler asks).
    pub fn apply(&mut self, effect: Effect) -> bool {
        match effect {
            Effect::Quit => return false,
            Effect::Subscribe(filter) => self.subscribe(filter),
            Effect::Reconnect => self.client.retry_now(),
            Effect::SavePromptHistory { path, history } => self.save_prompts(path, history),
            // Need the terminal or the loop's theme; handled by the loop.
            Effect::EditExternally(_)
            | Effect::SetTheme(_)
            | Effect::Copy { .. }
            | Effect::Suspend
            | Effect::SetMouse(_) => {}
            composer @ (Effect::ComposeSend { .. }
            | Effect::ComposeFhir { .. }
            | Effect::FollowRequest(_)
            | Effect::RecordSent(_)
            | Effect::LoadHistory { .. }
            | Effect::SaveRequest { .. }
            | Effect::LoadSaved) => self.composer(composer),
            engine @ (Effect::LoadPage(..)
            | Effect::CatchUp { .. }
            | Effect::LoadConnections(_)
            | Effect::OpenLog(..)
            | Effect::Revoke(_)
            | Effect::Reload
            | Effect::LoadKeys
            | Effect::CreateKey { .. }
            | Effect::Act(_)) => self.engine(engine),
        }
        true
    }

    /// Follows the live feed, replacing the subscription before it.
    fn subscribe(&mut self, filter: Filter) {
        if let Some(old) = self.subscription.take() {
            old.abort();
        }
        let (client, tx, stop) = (self.client.clone(), self.tx.clone(), self.stop.clone());
        self.subscription = Some(self.tasks.spawn(async move {
            match client.subscribe(filter).await {
                Ok(mut feed) => {
                    while let Some(event) = tokio::select! {
                        event = feed.recv() => event,
                        () = stop.cancelled() => None,
                    } {
                        if tx.send(Msg::Feed(event)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Msg::Failed(e.to_string())).await;
                }
            }
        }));
    }

    /// History, connections and one log read from the engine; operator actions on it.
    fn engine(&self, effect: Effect) {
        let client = self.client.clone();
        match effect {
            Effect::LoadPage(tag, query) => self.spawn(async move {
                Some(match client.logs(query).await {
                    Ok(page) => Msg::Page(tag, page),
                    Err(e) => Msg::Failed(e.to_string()),
                })
            }),
            Effect::CatchUp { tag, query, max } => self.spawn(async move {
                let mut query = query;
                let mut found = Vec::new();
                let answer = loop {
                    match client.logs(query.clone()).await {
                        Ok(page) => {
                            found.extend(page.logs);
                            match page.next {
                                Some(next) if found.len() < max => query.before = Some(next),
                                _ => break Ok(found),
                            }
                        }
                        Err(e) => break Err(e.to_string()),
                    }
                };
                Some(Msg::CaughtUp(tag, answer))
            }),
            Effect::LoadConnections(env) => self.spawn(async move {
                Some(match client.connections(env).await {
                    Ok(view) => Msg::Connections(view),
                    Err(e) => Msg::Failed(e.to_string()),
                })
            }),
            Effect::OpenLog(tag, id) => self.spawn(async move {
                Some(match client.log(id).await {
                    Ok(detail) => Msg::Detail(tag, detail.map(Box::new)),
                    Err(e) => Msg::Failed(e.to_string()),
                })
            }),
            Effect::Revoke(what) => {
                let tx = self.tx.clone();
                self.spawn(async move {
                    let answer = match client.revoke(what).await {
                        Ok(report) => Msg::Info(report.text().trim_end().replace('\n', "; ")),
                        Err(e) => return Some(Msg::Failed(e.to_string())),
                    };
                    // The Keys view, if open, shows the key as revoked.
                    let keys = client.keys().await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Keys(keys)).await;
                    Some(answer)
                })
            }
            Effect::Reload => self.spawn(async move {
                Some(match client.reload().await {
                    Ok(report) => {
                        Msg::Info(format!("configuration reloaded: {}", report.summary()))
                    }
                    Err(e) => Msg::Failed(e.to_string()),
                })
            }),
            Effect::LoadKeys => self.spawn(async move {
                Some(Msg::Keys(client.keys().await.map_err(|e| e.to_string())))
            }),
            Effect::CreateKey { source, kind } => self.spawn(async move {
                let kind = match kind {
                    CreateKind::Legacy => NewKeyKind::Legacy,
                    CreateKind::Hs384 => NewKeyKind::Hs384,
                    CreateKind::JwksFile(path) => match read_jwks(&path).await {
                        Ok(jwks) => NewKeyKind::Jwks { jwks },
                        Err(e) => return Some(Msg::KeyCreated(Err(e))),
                    },
                };
                let new = NewKey {
                    source: source.to_string(),
                    kind,
                };
                Some(Msg::KeyCreated(
                    client.create_key(new).await.map_err(|e| e.to_string()),
                ))
            }),
            Effect::Act(action) => self.spawn(async move {
                client
                    .act(action)
                    .await
                    .err()
                    .map(|e| Msg::Failed(e.to_string()))
            }),
            // Sorted out by `apply`.
            _ => {}
        }
    }

    /// The composer's ways out: sending, following what was sent, its history kept by
    /// the engine, and the saved requests kept in the console's own files.
    fn composer(&self, effect: Effect) {
        let client = self.client.clone();
        match effect {
            Effect::ComposeSend { source, path, body } => {
                let sender = self.sender.clone();
                self.spawn(async move {
                    let answer = sender.send(client.as_ref(), source, path, body).await;
                    Some(Msg::Sent(answer.map_err(|e| e.to_string())))
                })
            }
            Effect::ComposeFhir { source, request } => {
                let sender = self.sender.clone();
                self.spawn(async move {
                    let answer = sender.send_fhir(client.as_ref(), source, request).await;
                    Some(Msg::Sent(answer.map_err(|e| e.to_string())))
                })
            }
            Effect::FollowRequest(log) => self.spawn(async move {
                client
                    .log(log)
                    .await
                    .ok()
                    .map(|detail| Msg::Followed(detail.map(Box::new)))
            }),
            Effect::RecordSent(sent) => self.spawn(async move {
                client
                    .record_sent(sent)
                    .await
                    .err()
                    .map(|e| Msg::Failed(format!("not kept in the history: {e}")))
            }),
            Effect::LoadHistory { before } => self.spawn(async move {
                let page = client.sent_history(before, HISTORY_PAGE).await;
                Some(Msg::History(page.map_err(|e| e.to_string())))
            }),
            Effect::SaveRequest { name, request } => {
                let dir = self.collection.clone();
                self.spawn(async move {
                    let saved = tokio::task::spawn_blocking(move || {
                        collection::save(&dir, &name, &request, true)
                    })
                    .await;
                    Some(match saved {
                        Ok(Ok(path)) => Msg::Info(format!("saved to {}", path.display())),
                        Ok(Err(e)) => Msg::Failed(format!("not saved: {e}")),
                        Err(e) => Msg::Failed(format!("not saved: {e}")),
                    })
                })
            }
            Effect::LoadSaved => {
                let dir = self.collection.clone();
                self.spawn(async move {
                    let listed = tokio::task::spawn_blocking(move || collection::list(&dir)).await;
                    Some(Msg::SavedList(match listed {
                        Ok(found) => found.map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    }))
                })
            }
            // Sorted out by `apply`.
            _ => {}
        }
    }

    /// Writes the prompts' history off the loop's thread; not cancelled by quitting (the
    /// drain waits for it), so the `:quit` just typed is kept too.
    fn save_prompts(
        &self,
        path: std::path::PathBuf,
        history: crate::console::recall::PromptHistory,
    ) {
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let saved = tokio::task::spawn_blocking(move || history.save(&path)).await;
            if let Ok(Err(e)) = saved {
                tracing::warn!(error = %e, "prompt history not saved");
                let _ = tx.try_send(Msg::Failed(e.to_string()));
            }
        });
    }
}

/// A JWKS file on this machine, as JSON (the engine checks its keys).
async fn read_jwks(path: &str) -> Result<serde_json::Value, String> {
    let path = match path.trim().strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_default()
            .join(rest),
        None => std::path::PathBuf::from(path.trim()),
    };
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| format!("cannot read the JWKS file {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("the JWKS file {} is not JSON: {e}", path.display()))
}
