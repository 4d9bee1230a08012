//! Choosing what to compose: `c` and `:compose` open the picker, which takes the
//! formalities itself (the environment already chosen, the console's own source, the
//! only reachable destination) and builds the template once everything is chosen. The
//! picker's keys stay with the composer's other keys (`picker_key`).

use super::super::{App, Effect, Notice, Pane};
use crate::console::composer::Composed;
use crate::console::composer::Draft;
use crate::console::composer::pick::{PickStep, PickValue, Picker};
use crate::console::prompt::LineInput;
use crate::model::fhir::{self, FhirKind};
use crate::model::template::{Options, Party, TemplateStyle, template_text};

impl App {
    /// `c` (every step, from the environment) or `:compose [MODEL EVENT]` (in the
    /// environment the console shows).
    pub(in crate::console::app) fn open_composer(
        &mut self,
        event: Option<Composed>,
    ) -> Vec<Effect> {
        self.focus = Pane::Composer;
        if self.composer.unsaved() && !self.composer.discard_asked {
            self.composer.discard_asked = true;
            self.composer.discard_for = event;
            return self.error(
                "the composer holds unsaved edits: y discards them and composes a new request \
                 · ctrl-w saves them · any other key keeps them",
            );
        }
        self.composer.discard_asked = false;
        // The environment is asked only while the user has not chosen one.
        self.composer.picker = Some(match event {
            None if !self.env_chosen => Picker::full(self.environment),
            _ => Picker::new(event, None),
        });
        self.advance_picker();
        Vec::new()
    }

    /// `:compose FHIR [Resource [search] | Code]`: that FHIR request, or the list of
    /// requests narrowed to FHIR's.
    pub(in crate::console::app) fn open_fhir_composer(
        &mut self,
        kind: Option<FhirKind>,
    ) -> Vec<Effect> {
        if let Some(kind) = kind {
            return self.open_composer(Some(Composed::Fhir(kind)));
        }
        self.focus = Pane::Composer;
        let mut picker = Picker::new(None, None);
        picker.query = LineInput::new("FHIR ");
        self.composer.picker = Some(picker);
        Vec::new()
    }

    /// Connections arrived: a picker waiting for them can go on.
    pub(in crate::console::app) fn connections_arrived(&mut self) {
        if self
            .composer
            .picker
            .as_ref()
            .is_some_and(|p| matches!(p.step, PickStep::Source | PickStep::Destination))
        {
            self.advance_picker();
        }
    }

    /// Takes the choices that are formalities (the console's own source, the only
    /// reachable destination), and builds the template once everything is chosen.
    pub(in crate::console::app) fn advance_picker(&mut self) {
        loop {
            let Some(picker) = &mut self.composer.picker else {
                return;
            };
            if matches!(picker.step, PickStep::Source | PickStep::Destination)
                && self.connections.is_none()
            {
                return;
            }
            let Some(value) = picker.obvious(self.connections.as_ref()) else {
                return;
            };
            if picker.take(value.clone()) {
                self.finish_picking(value);
                return;
            }
        }
    }

    pub(in crate::console::app) fn finish_picking(&mut self, destination: PickValue) {
        let Some(picker) = self.composer.picker.take() else {
            return;
        };
        let (Some(event), Some(source), PickValue::Party(destination)) =
            (picker.event, picker.source, destination)
        else {
            return;
        };
        let env = self.environment;
        let draft = Draft {
            environment: env,
            source,
            destination,
            what: event,
        };
        let samples = self.samples(env);
        let event = match event {
            Composed::Event(event) => event,
            Composed::Fhir(kind) => {
                let text = match kind {
                    FhirKind::Search(resource) => fhir::search::form_text(resource, &samples),
                    FhirKind::Message(m) => {
                        fhir::message::template_text(m, draft.source.id, self.now(), &samples)
                    }
                };
                let vars = self.variables(env);
                self.composer.load(draft, &text, &vars);
                self.notice = Some(Notice::Info(
                    "FHIR request ready: i edit · e $EDITOR · ctrl-s send · y curl".into(),
                ));
                return;
            }
        };
        let options = Options {
            event,
            now: self.now(),
            source: Some(Party::new(
                draft.source.id.to_string(),
                draft.source.name.clone(),
            )),
            destinations: vec![Party::new(
                draft.destination.id.to_string(),
                draft.destination.name.clone(),
            )],
            samples: &samples,
            style: TemplateStyle::Variables,
        };
        match template_text(&options) {
            Ok(text) => {
                let vars = self.variables(env);
                self.composer.load(draft, &text, &vars);
                self.notice = Some(Notice::Info(
                    "template ready: i edit · e $EDITOR · ctrl-s send".into(),
                ));
            }
            Err(e) => self.notice = Some(Notice::Error(format!("no template: {e}"))),
        }
    }
}
