//! Generated PowerShell parsed with a real grammar (tree-sitter-powershell): no parse errors,
//! and every value from a request or from facts is exactly one verbatim string literal whose
//! content, read by the language specification's rule (§2.3.5.2, which — unlike the grammar —
//! also ends strings at U+2018–U+201B), is the original value.

use app::domain::request::{IntegrationSpec, RequestInput};
use app::procedure::plan::{Plan, plan};
use app::procedure::powershell::{Command, Value, check_text, parse_verbatim, quote};
use app::procedure::samples;
use tree_sitter::{Node, Parser, Tree};

fn parse(script: &str) -> Tree {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_powershell::LANGUAGE.into())
        .expect("grammar");
    parser.parse(script, None).expect("parse")
}

fn nodes<'t>(node: Node<'t>, kind: &str, out: &mut Vec<Node<'t>>) {
    if node.kind() == kind {
        out.push(node);
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        nodes(child, kind, out);
    }
}

/// Every verbatim string literal in `script`, as written.
fn literals(script: &str) -> Vec<String> {
    let tree = parse(script);
    let mut found = Vec::new();
    nodes(tree.root_node(), "verbatim_string_characters", &mut found);
    found
        .iter()
        .map(|n| script[n.byte_range()].to_string())
        .collect()
}

/// Parses `script` and checks it: no syntax errors, no command the generator never writes,
/// and every string literal well-formed by the specification's rule.
fn assert_sound(script: &str) {
    if script.trim().is_empty() {
        return;
    }
    let tree = parse(script);
    assert!(
        !tree.root_node().has_error(),
        "parse error in:\n{script}\n{}",
        tree.root_node().to_sexp()
    );
    let mut names = Vec::new();
    nodes(tree.root_node(), "command_name", &mut names);
    for n in names {
        let name = &script[n.byte_range()];
        assert!(
            !name.eq_ignore_ascii_case("Stop-Computer"),
            "an injected command ran in:\n{script}"
        );
    }
    for literal in literals(script) {
        assert!(
            parse_verbatim(&literal).is_some(),
            "{literal:?} is not one verbatim string by the language specification, in:\n{script}"
        );
    }
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn hostile(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            " ",
            "-",
            ".",
            "'",
            "\"",
            "`",
            "$",
            "$(",
            ")",
            "(",
            ";",
            "|",
            "&",
            "{",
            "}",
            "@",
            "#",
            "<#",
            "#>",
            "\r",
            "\n",
            "\r\n",
            "\t",
            "\0",
            "\u{2018}",
            "\u{2019}",
            "\u{201A}",
            "\u{201B}",
            "\u{201C}",
            "\u{201D}",
            "\u{2013}",
            "\u{2014}",
            "\u{2015}",
            "\u{00A0}",
            "\u{2028}",
            "\u{FEFF}",
            "\u{1F600}",
            "\u{10FFFF}",
            "Stop-Computer",
            "'; Stop-Computer; '",
            "\u{2019}; Stop-Computer; \u{2018}",
            "@'",
            "'@",
            "-Force",
        ];
        let len = (self.next() % 12) as usize;
        (0..len)
            .map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize])
            .collect()
    }
}

#[test]
fn every_hostile_string_is_one_literal_with_the_same_content() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for _ in 0..2000 {
        let value = rng.hostile();
        if value.contains('\0') {
            // Refused before any script is built (see `check_text`).
            assert!(check_text(&value).is_err(), "{value:?}");
            continue;
        }
        let script = Command::new("Set-OwaVirtualDirectory")
            .arg("Identity", Value::text(&value))
            .arg("InstantMessagingEnabled", Value::Bool(true))
            .arg(
                "DialPlans",
                Value::Change {
                    add: true,
                    item: value.clone(),
                },
            )
            .to_string();
        assert_sound(&script);
        let found = literals(&script);
        assert_eq!(
            found,
            vec![quote(&value), quote(&value)],
            "{value:?} in {script:?}"
        );
        assert_eq!(parse_verbatim(&found[0]).as_deref(), Some(value.as_str()));
    }
}

fn plan_of(facts: &app::procedure::facts::Facts, input: &RequestInput) -> Plan {
    let spec = IntegrationSpec::validate(input, samples::now()).expect("valid request");
    plan(&spec, facts, samples::now())
}

/// Every script of a plan: the runbook, and each step's check and rollback.
fn scripts(plan: &Plan) -> Vec<String> {
    let mut all = vec![
        server::render::runbook(plan)
            .trim_start_matches('\u{FEFF}')
            .to_string(),
    ];
    for step in &plan.steps {
        all.push(step.apply.join("\n"));
        all.push(step.check.clone());
        all.push(step.rollback.join("\n"));
    }
    all.extend(plan.evidence.iter().map(|e| e.script.clone()));
    all
}

#[test]
fn every_sample_plan_parses() {
    for (name, facts) in samples::all() {
        for input in [
            samples::article_request(),
            RequestInput {
                policy_scope: "all".into(),
                ..samples::article_request()
            },
        ] {
            for script in scripts(&plan_of(&facts, &input)) {
                assert_sound(&script);
            }
            let _ = name;
        }
    }
}

#[test]
fn hostile_facts_cannot_escape_their_literals() {
    let mut rng = Rng(0xFACE_B00C_0000_0002);
    for _ in 0..150 {
        let mut facts = samples::duplicate_pool();
        // A distinct prefix per value, so finding its literal in a script is unambiguous.
        let values: Vec<String> = (0..6).map(|i| format!("V{i}:{}", rng.hostile())).collect();
        facts.exchange.owa_virtual_directories[0].identity = values[0].clone();
        facts.exchange.dial_plans[0].name = values[1].clone();
        facts.exchange.um_services[0].dial_plans = vec![values[1].clone()];
        facts.exchange.backends[0].owa_app_settings =
            vec![("IMServerName".into(), values[2].clone())];
        facts.lync.trusted_applications[0].application_id = values[3].clone();
        facts.exchange.owa_mailbox_policies[0].instant_messaging_type = values[4].clone();
        facts.exchange.servers[1].fqdn = values[5].clone();
        facts.exchange.backends[0].server = values[5].clone();
        if values.iter().any(|v| v.contains('\0')) {
            assert!(facts.validate().is_err(), "{values:?}");
            continue;
        }
        facts.validate().expect("valid facts");
        let plan = plan_of(&facts, &samples::article_request());
        let everything = scripts(&plan);
        for script in &everything {
            assert_sound(script);
        }
        let all_literals: Vec<String> = everything.iter().flat_map(|s| literals(s)).collect();
        // Each injected value that reached a script is there as one whole literal.
        for (i, value) in values.iter().enumerate() {
            // The application id reaches the script inside the pool-qualified identity.
            let q = if i == 3 {
                quote(&format!("atl-owa-001.litwareinc.com/{value}"))
            } else {
                quote(value)
            };
            assert!(
                everything.iter().any(|s| s.contains(&q)),
                "{value:?} never reached a script"
            );
            assert!(
                all_literals.contains(&q),
                "{value:?} is not a whole literal"
            );
        }
    }
}

#[test]
fn probe_scripts_parse() {
    use app::procedure::probes;
    let mut rng = Rng(0x0B5E_55ED_0000_0003);
    assert_sound(&probes::lync().script);
    assert_sound(&probes::exchange().script);
    for _ in 0..200 {
        let server = format!("V:{}", rng.hostile());
        if server.contains('\0') {
            continue;
        }
        let script = probes::backend(&server).script;
        assert_sound(&script);
        assert!(literals(&script).contains(&quote(&server)), "{server:?}");
    }
}
