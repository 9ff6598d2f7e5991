//! `bcss classes`: the label codes, their colours, and the class maps.

use bcss::catalog::classmap::{ClassMap, PRESETS};
use bcss::catalog::codes::CODES;

use super::{inputs, print_json, Output};
use crate::cli::ClassesArgs;
use crate::exit::Failure;

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

fn map_json(m: &ClassMap) -> serde_json::Value {
    serde_json::json!({
        "name": m.name(),
        "dont_care": m.dont_care_codes(),
        "classes": m.classes().iter().map(|c| serde_json::json!({"value": c.value, "name": c.name, "color": hex(c.color), "codes": c.codes})).collect::<Vec<_>>(),
    })
}

pub fn run(args: &ClassesArgs, out: Output) -> Result<(), Failure> {
    if args.toml {
        let m = inputs::class_map(args.class_map.as_deref().unwrap_or("main5"))?;
        print!("{}", m.to_toml());
        return Ok(());
    }
    if let Some(spec) = &args.class_map {
        let m = inputs::class_map(spec)?;
        if out.json {
            print_json(&map_json(&m));
        } else {
            println!("class map {} ({} classes; 0 = don't care)", m.name(), m.num_classes());
            println!("{:>5}  {:<24} {:<8} codes", "value", "class", "colour");
            for c in m.classes() {
                let codes: Vec<String> = c.codes.iter().map(|&k| format!("{k} {}", CODES[k as usize].label)).collect();
                println!("{:>5}  {:<24} {:<8} {}", c.value, c.name, hex(c.color), codes.join(", "));
            }
            let dc: Vec<String> = std::iter::once(0)
                .chain(m.dont_care_codes().iter().copied())
                .map(|k| format!("{k} {}", CODES[k as usize].label))
                .collect();
            println!("{:>5}  {:<24} {:<8} {}", 0, "dont_care", "-", dc.join(", "));
        }
        return Ok(());
    }
    let maps: Vec<ClassMap> = PRESETS.iter().map(|p| ClassMap::preset(p).expect("preset")).collect();
    if out.json {
        let codes: Vec<serde_json::Value> = CODES.iter().map(|c| serde_json::json!({"code": c.value, "label": c.label, "color": hex(c.color), "dont_care": c.value == 0})).collect();
        print_json(&serde_json::json!({"codes": codes, "maps": maps.iter().map(map_json).collect::<Vec<_>>()}));
        return Ok(());
    }
    print!("{:>4}  {:<24} {:<8}", "code", "label", "colour");
    for m in &maps {
        print!(" {:<26}", m.name());
    }
    println!();
    for c in CODES.iter() {
        print!("{:>4}  {:<24} {:<8}", c.value, c.label, hex(c.color));
        for m in &maps {
            let v = m.class_of(c.value).expect("a BCSS code");
            let cell = if v == 0 { "(don't care)".to_string() } else { format!("{v} {}", m.class_name(v)) };
            print!(" {cell:<26}");
        }
        println!();
    }
    println!("\ncode 0 is always don't care (zero weight, never a class); in main5, exclude (7) and undetermined (15) are don't care because the paper does not place them");
    Ok(())
}
