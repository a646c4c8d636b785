//! The invalid-YAML catalogue of issue 23, shared by
//! `crates/orgform-spec/tests/yaml_errors.rs` (the library) and the
//! top-level `tests/diagnostics.rs` (the real binary). Written for orgform:
//! each input is a spec a person could plausibly write, broken in one way.

/// One invalid YAML input and the line its error belongs to.
pub struct Case {
    pub name: &'static str,
    pub text: &'static str,
    pub line: u32,
}

/// The catalogue.
pub const CASES: &[Case] = &[
    Case {
        name: "unclosed flow list",
        text: "version: 1\ngroups: [{externalId: G1, name: Sales}\nusers: []\n",
        line: 2,
    },
    Case {
        name: "unclosed flow mapping on the last line",
        text: "version: 1\nusers:\n  - {externalId: E1, firstName: Ada\n",
        line: 3,
    },
    Case {
        name: "unclosed flow list ending the file",
        text: "version: 1\nusers:\n  - externalId: E1\n    firstName: [Ada\n",
        line: 4,
    },
    Case {
        name: "unclosed double quote",
        text: "version: 1\ngroups:\n  - externalId: \"G1\n    name: Sales\n",
        line: 3,
    },
    Case {
        name: "unclosed single quote",
        text: "version: 1\ngroups:\n  - externalId: 'G1\n    name: Sales\n",
        line: 3,
    },
    Case {
        name: "text after a closing quote",
        text: "version: 1\ngroups:\n  - externalId: \"G1\" x\n",
        line: 3,
    },
    Case {
        name: "bad indentation",
        text: "version: 1\ngroups:\n  - externalId: G1\n     name: Sales\n",
        line: 4,
    },
    Case {
        name: "tab indenting a key",
        text: "version: 1\nusers:\n  - externalId: E1\n    firstName: Ada\n\tlastName: Lovelace\n",
        line: 5,
    },
    Case {
        name: "tab indenting a list item",
        text: "version: 1\nusers:\n\t- externalId: E1\n",
        line: 3,
    },
    Case {
        name: "stray closing bracket",
        text: "version: 1\ngroups: []]\n",
        line: 2,
    },
    Case {
        name: "key without colon",
        text: "version: 1\ngroups:\n  - externalId: G1\n    name Sales\n    description: Everyone\n",
        line: 4,
    },
    Case {
        name: "key without colon on the last line",
        text: "version: 1\nusers\n",
        line: 2,
    },
    Case {
        name: "alias to no anchor",
        text: "version: 1\ngroups: *nowhere\n",
        line: 2,
    },
    Case {
        name: "two anchors on one node",
        text: "version: 1\ngroups: &a &b []\n",
        line: 2,
    },
    Case {
        name: "unterminated verbatim tag",
        text: "version: 1\ngroups: !<tag:yaml.org,2002:seq []\n",
        line: 2,
    },
    Case {
        name: "undeclared tag handle",
        text: "version: 1\ngroups: !local!list []\n",
        line: 2,
    },
    Case {
        name: "duplicate YAML directive",
        text: "%YAML 1.2\n%YAML 1.2\n---\nversion: 1\n",
        line: 2,
    },
    Case {
        name: "directive without a document start",
        text: "%TAG !e! tag:example.com,2026:\nversion: 1\n",
        line: 2,
    },
    Case {
        name: "several documents",
        text: "version: 1\ngroups: []\n---\nversion: 1\n",
        line: 3,
    },
    Case {
        name: "content after the document end",
        text: "version: 1\n...\nusers: []\n",
        line: 3,
    },
];

/// The codes a YAML-level failure is reported with.
pub const YAML_CODES: &[&str] = &["yamlSyntax", "multipleDocuments", "unknownAlias"];
