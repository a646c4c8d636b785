//! `orgform graph`: the group hierarchy as Mermaid or Graphviz DOT on
//! stdout.
//!
//! The hierarchy drawn is the one after the plan (what apply would leave:
//! the spec's groups, or the state's when the spec omits `groups`), so
//! `orgform graph` shows the same tree as the plan. `--changes` marks what
//! the plan creates, renames or moves, draws the groups it deletes, and
//! the old parent of a moved group as a dashed arrow. Reading the state
//! takes no lock, and nothing is written. The drawing is
//! `orgform_plan::graph` (pure); this is only the glue.

use std::process::ExitCode;

use orgform_model::EffectiveOrg;
use orgform_plan::PlanOptions;
use orgform_plan::graph::GroupGraph;

use crate::args::{GraphArgs, GraphFormat};
use crate::commands::{base, load_spec, load_state, store};
use crate::output;

/// Runs `orgform graph`.
pub fn run(args: &GraphArgs) -> anyhow::Result<ExitCode> {
    let spec = load_spec(&args.spec)?;
    let store = store(args.state.state.as_deref());
    let state = load_state(&store)?;
    let empty = EffectiveOrg::default();
    let plan = orgform_plan::plan(&spec, base(state.as_ref(), &empty), &PlanOptions::default());
    let before = state.as_ref().map_or(&empty, |s| &s.org);
    let after = plan.effective_after();
    let graph = if args.changes {
        GroupGraph::whole_with_changes(&before.groups, &after.groups)
    } else {
        GroupGraph::whole(&after.groups)
    };
    let text = match args.format {
        GraphFormat::Mermaid => graph.mermaid(),
        GraphFormat::Dot => graph.dot(),
    };
    output::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}
