//! What a reviewer sees: a plan's document, the states before and after it
//! (when known), and a comparison with an earlier plan (when asked), in
//! one value that [`Review::redacted`] masks once for every renderer.
//!
//! - [`Review::of_plan`] (from `orgform plan`): the document, the state it
//!   was made against and [`Plan::effective_after`], so every output is
//!   available, the diff included.
//! - [`Review::of_doc`] (from `orgform show PLANFILE`): the saved document
//!   only. A saved plan holds the reviewed plan and the desired org, not
//!   the state: [`crate::diff::render`] needs both states and gives `None`
//!   here, and a deactivated user's groups are listed in the deletions
//!   only when the plan changes them.
//!
//! ```
//! use orgform_model::{DesiredOrg, DesiredUser, EffectiveOrg};
//! use orgform_plan::review::Review;
//! use orgform_plan::{Base, PlanOptions, markdown};
//!
//! let org = DesiredOrg {
//!     users: Some(vec![DesiredUser::new("E1", "Ada", "Lovelace", "ada@example.com")]),
//!     ..DesiredOrg::default()
//! };
//! let spec = orgform_spec::validate_org(org).expect("valid");
//! let before = EffectiveOrg::default();
//! let plan = orgform_plan::plan(&spec, Base::empty(), &PlanOptions::default());
//! let review = Review::of_plan(&plan, &before).redacted();
//! let md = markdown::render(&review, &markdown::MarkdownOptions::default());
//! assert!(md.starts_with(markdown::MARKER));
//! assert!(!md.contains("ada@example.com"));
//! ```

use std::borrow::Cow;
use std::cell::OnceCell;

use orgform_model::EffectiveOrg;

use crate::compare::Comparison;
use crate::doc::PlanDoc;
use crate::{Plan, redact};

/// A plan as reviewers see it; see the module docs.
#[derive(Debug, Clone)]
pub struct Review<'a> {
    doc: Cow<'a, PlanDoc>,
    states: Option<(Cow<'a, EffectiveOrg>, Cow<'a, EffectiveOrg>)>,
    comparison: Option<(Comparison, String)>,
    /// Where apply sends the plan, credentials stripped ([`redact::endpoint`]).
    endpoint: Option<String>,
    /// The digest of the plan as made; computed when first asked (a
    /// redacted copy gets it from the original).
    plan_digest: OnceCell<String>,
    redacted: bool,
}

impl<'a> Review<'a> {
    /// A fresh plan, made against `before` (the state's records; empty for
    /// no state).
    pub fn of_plan(plan: &'a Plan, before: &'a EffectiveOrg) -> Review<'a> {
        Review {
            doc: Cow::Borrowed(plan.doc()),
            states: Some((Cow::Borrowed(before), Cow::Borrowed(plan.effective_after()))),
            comparison: None,
            endpoint: None,
            plan_digest: OnceCell::new(),
            redacted: false,
        }
    }

    /// A saved plan's document, without its states.
    pub fn of_doc(doc: &'a PlanDoc) -> Review<'a> {
        Review {
            doc: Cow::Borrowed(doc),
            states: None,
            comparison: None,
            endpoint: None,
            plan_digest: OnceCell::new(),
            redacted: false,
        }
    }

    /// Adds a comparison with an earlier plan (see [`crate::compare`]); made
    /// from the unmasked documents, masked with the rest by
    /// [`Review::redacted`]. `source` names the reviewed plan (its file).
    pub fn with_comparison(mut self, comparison: Comparison, source: &str) -> Review<'a> {
        let comparison = if self.redacted {
            comparison.redacted()
        } else {
            comparison
        };
        self.comparison = Some((comparison, source.to_owned()));
        self
    }

    /// Names the endpoint apply sends the plan to (shown in the comment).
    /// Userinfo, query and fragment are stripped here ([`redact::endpoint`]),
    /// so no credential in a URL reaches any output.
    pub fn with_endpoint(mut self, url: &str) -> Review<'a> {
        self.endpoint = Some(redact::endpoint(url));
        self
    }

    /// A copy with every email, phone, first and last name and
    /// externalProperties value masked (see [`crate::redact`]);
    /// externalIds, group names and the plan's digest stay.
    pub fn redacted(&self) -> Review<'static> {
        if self.redacted {
            return Review {
                doc: Cow::Owned(self.doc.clone().into_owned()),
                states: self.states.as_ref().map(|(b, a)| {
                    (
                        Cow::Owned(b.clone().into_owned()),
                        Cow::Owned(a.clone().into_owned()),
                    )
                }),
                comparison: self.comparison.clone(),
                endpoint: self.endpoint.clone(),
                plan_digest: self.plan_digest.clone(),
                redacted: true,
            };
        }
        let mut secrets = redact::Secrets::of_doc(&self.doc);
        if let Some((before, after)) = &self.states {
            secrets.extend_org(before);
            secrets.extend_org(after);
        }
        Review {
            doc: Cow::Owned(redact::doc_with(&self.doc, &secrets)),
            states: self.states.as_ref().map(|(b, a)| {
                let (b, a) = redact::states(b, a);
                (Cow::Owned(b), Cow::Owned(a))
            }),
            comparison: self
                .comparison
                .as_ref()
                .map(|(c, source)| (c.redacted(), source.clone())),
            endpoint: self.endpoint.clone(),
            plan_digest: OnceCell::from(self.plan_digest().to_owned()),
            redacted: true,
        }
    }

    /// The plan document (masked when redacted).
    pub fn doc(&self) -> &PlanDoc {
        &self.doc
    }

    /// The state before the plan, when known.
    pub fn before(&self) -> Option<&EffectiveOrg> {
        self.states.as_ref().map(|(b, _)| b.as_ref())
    }

    /// The state after the plan, when known.
    pub fn after(&self) -> Option<&EffectiveOrg> {
        self.states.as_ref().map(|(_, a)| a.as_ref())
    }

    /// The comparison with an earlier plan and the name of that plan, when
    /// one was added.
    pub fn comparison(&self) -> Option<(&Comparison, &str)> {
        self.comparison.as_ref().map(|(c, s)| (c, s.as_str()))
    }

    /// The endpoint apply sends the plan to, credentials stripped, when named.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The digest of the plan as made (not of the masked copy): the one a
    /// saved plan records and `apply` checks.
    pub fn plan_digest(&self) -> &str {
        self.plan_digest.get_or_init(|| self.doc.digest())
    }

    /// Whether personal data is masked.
    pub fn is_redacted(&self) -> bool {
        self.redacted
    }
}

#[cfg(test)]
#[path = "review_tests.rs"]
mod tests;
