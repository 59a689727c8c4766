//! The voter site: the ballot, the pet page and its pictures, moves, exact
//! counts under concurrency, mounted pictures and `DEBUG`.

use futures::StreamExt;

use crate::helpers::{location, spawn_app, spawn_app_with, votes_of, Env, Visitor};

#[tokio::test]
async fn a_visitor_who_has_not_voted_is_sent_to_the_ballot() {
    let app = spawn_app().await;
    let response = Visitor::new().get(&app.web).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/vote");
}

#[tokio::test]
async fn every_answer_of_the_voter_site_names_its_version_and_replica() {
    let app = spawn_app().await;
    let fleet: serde_json::Value = Visitor::new()
        .get(&format!("{}/api/fleet", app.admin))
        .await
        .json()
        .await
        .unwrap();
    let id = fleet["replicas"][0]["id"].as_str().expect("a replica");
    assert!(id.starts_with("test-host-"), "the fleet's id: {id}");
    let nowhere = format!("{}/nowhere", app.web);
    for url in [&app.web, &app.vote_url(), &app.health_url(), &nowhere] {
        let answer = Visitor::new().get(url).await;
        assert_eq!(answer.headers()["x-pets-version"], "1.0", "{url}");
        assert_eq!(answer.headers()["x-pets-replica"], id, "{url}");
    }
    let voted = Visitor::new().vote(&app, "Ada", "a").await;
    assert_eq!(voted.status(), 303);
    assert_eq!(voted.headers()["x-pets-replica"], id, "a vote's answer too");
    let console = Visitor::new().get(&app.results_url()).await;
    assert!(
        console.headers().get("x-pets-version").is_none(),
        "the voter site's only"
    );
}

#[tokio::test]
async fn voting_shows_the_pet_page_with_a_picture_that_loads() {
    let app = spawn_app().await;
    let visitor = Visitor::new();

    let ballot = visitor.get(&app.vote_url()).await;
    assert_eq!(ballot.status(), 200);
    let ballot = ballot.text().await.unwrap();
    for option in ["Cats", "Dogs", "Whales"] {
        assert!(ballot.contains(option), "ballot lists {option}");
    }

    let voted = visitor.vote(&app, "Ada", "b").await;
    assert_eq!(voted.status(), 303);
    assert_eq!(location(&voted), "/");

    let page = visitor.get(&app.web).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Dogs"));
    assert!(page.contains("test-host"), "names the serving container");
    assert!(page.contains("version 1.0"));
    assert!(page.contains(r#"id="pets-served">1<"#), "counts this page");
    assert!(page.contains("Serve another pet") && page.contains("Vote again"));
    assert!(page.contains("memory-note"), "says votes are local");

    let src = page
        .split(r#"id="pet-picture" src=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a picture")
        .replace("&#x2F;", "/");
    assert!(src.starts_with("/static/option_b/"), "a dog picture: {src}");
    let picture = visitor.get(&format!("{}{src}", app.web)).await;
    assert_eq!(picture.status(), 200);
    assert_eq!(picture.headers()["content-type"], "image/svg+xml");
    assert!(picture.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    assert!(picture.text().await.unwrap().contains("<svg"));
}

#[tokio::test]
async fn every_default_pet_has_at_least_three_pictures() {
    let app = spawn_app().await;
    for (choice, folder) in [("a", "option_a"), ("b", "option_b"), ("c", "option_c")] {
        let visitor = Visitor::new();
        visitor.vote(&app, "Pic", choice).await;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..60 {
            let page = visitor.get(&app.web).await.text().await.unwrap();
            let src = page.split("pet-picture\" src=\"").nth(1).unwrap();
            seen.insert(src.split('"').next().unwrap().to_owned());
        }
        assert!(seen.len() >= 3, "{folder} shows {} pictures", seen.len());
    }
}

#[tokio::test]
async fn static_files_revalidate_with_their_etag() {
    let app = spawn_app().await;
    let visitor = Visitor::new();
    let url = format!("{}/static/css/pets.css", app.web);
    let first = visitor.get(&url).await;
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].clone();
    let again = visitor
        .http
        .get(&url)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn voting_again_moves_the_vote() {
    let app = spawn_app().await;
    let visitor = Visitor::new();
    visitor.vote(&app, "Ada", "a").await;
    visitor.vote(&app, "Ada", "c").await;
    assert_eq!(app.votes().await, [0, 0, 1]);

    let ballot = visitor.get(&app.vote_url()).await.text().await.unwrap();
    assert!(
        ballot.contains(r#"id="vote-c" class="choice choice-c current""#),
        "marks the vote"
    );
    assert!(!ballot.contains(r#"choice-a current"#));
}

#[tokio::test]
async fn options_are_named_by_the_environment() {
    let app = spawn_app_with(Env::default().with("OPTION_A", "Hamsters")).await;
    let ballot = Visitor::new()
        .get(&app.vote_url())
        .await
        .text()
        .await
        .unwrap();
    assert!(ballot.contains("Hamsters") && !ballot.contains("Cats"));
    let results = app.results().await;
    assert_eq!(results["options"][0]["name"], "Hamsters");
}

#[tokio::test]
async fn pets_served_counts_every_pet_page() {
    let app = spawn_app().await;
    let visitor = Visitor::new();
    visitor.vote(&app, "Ada", "a").await;
    for _ in 0..25 {
        assert_eq!(visitor.get(&app.web).await.status(), 200);
    }
    let results = app.results().await;
    assert_eq!(results["hits"], 25);
}

#[tokio::test]
async fn a_thousand_votes_from_fifty_clients_are_counted_exactly() {
    // A thousand new voters from one address in seconds is a flood the
    // per-address limit stops (see `movers`); here it is the load.
    let app = spawn_app_with(Env::default().with("PETS_NEW_VOTERS_PER_MINUTE", "0")).await;
    let votes = futures::stream::iter(0..1000)
        .map(|i| {
            let app = &app;
            async move {
                let choice = ["a", "b", "c"][i % 3];
                let response = Visitor::new()
                    .vote(app, &format!("voter {i}"), choice)
                    .await;
                assert_eq!(response.status(), 303, "vote {i} accepted");
            }
        })
        .buffer_unordered(50);
    votes.collect::<Vec<_>>().await;
    assert_eq!(app.votes().await, [334, 333, 333]);
}

#[tokio::test]
async fn fifty_voters_changing_their_minds_concurrently_count_once_each() {
    let app = spawn_app().await;
    let finals = futures::stream::iter(0..50)
        .map(|i| {
            let app = &app;
            async move {
                let visitor = Visitor::new();
                let mut last = 0;
                for round in 0..20 {
                    last = (i * 7 + round * 3) % 3;
                    let response = visitor.vote(app, "mover", ["a", "b", "c"][last]).await;
                    assert_eq!(response.status(), 303);
                }
                last
            }
        })
        .buffer_unordered(50)
        .collect::<Vec<_>>()
        .await;
    let mut expected = [0u64; 3];
    for choice in finals {
        expected[choice] += 1;
    }
    let results = app.results().await;
    assert_eq!(votes_of(&results), expected);
    assert_eq!(results["total_votes"], 50);
}

#[tokio::test]
async fn mounted_pictures_replace_an_options_built_in_ones() {
    let dir = crate::helpers::temp_file("marker", "")
        .parent()
        .unwrap()
        .to_owned();
    let folder = dir.join("option_a");
    std::fs::create_dir_all(&folder).unwrap();
    let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>"#;
    std::fs::write(folder.join("my-hamster.svg"), svg).unwrap();
    std::fs::write(folder.join("notes.txt"), "not a picture").unwrap();
    let app = spawn_app_with(
        Env::default()
            .with("PICTURES_DIR", dir.to_str().unwrap())
            .with("OPTION_A", "Hamsters"),
    )
    .await;
    let visitor = Visitor::new();
    visitor.vote(&app, "Ada", "a").await;
    let page = visitor.get(&app.web).await.text().await.unwrap();
    assert!(
        page.contains("my-hamster.svg"),
        "the mounted picture is shown"
    );
    let picture = visitor
        .get(&format!("{}/pictures/option_a/my-hamster.svg", app.web))
        .await;
    assert_eq!(picture.status(), 200);
    assert_eq!(picture.text().await.unwrap(), svg);
    for unlisted in ["notes.txt", "..%2Fmarker", "missing.svg"] {
        let response = visitor
            .get(&format!("{}/pictures/option_a/{unlisted}", app.web))
            .await;
        assert_eq!(response.status(), 404, "{unlisted}");
    }
    visitor.vote(&app, "Ada", "b").await;
    let dogs = visitor.get(&app.web).await.text().await.unwrap();
    assert!(
        dogs.contains("option_b"),
        "other options keep the built-in pictures"
    );
}

#[tokio::test]
async fn debug_mode_reads_templates_and_static_files_from_disk() {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let root = crate::helpers::temp_file("marker", "")
        .parent()
        .unwrap()
        .join("web");
    copy_dir(&source, &root);
    let app = spawn_app_with(
        Env::default()
            .with("DEBUG", "true")
            .with("PETS_WEB_ROOT", root.to_str().unwrap()),
    )
    .await;
    let ballot = |app: &crate::helpers::TestApp| {
        let url = app.vote_url();
        async move { Visitor::new().get(&url).await.text().await.unwrap() }
    };
    assert!(ballot(&app).await.contains("Which pet is best?"));

    let template = root.join("templates/vote.html");
    let edited = std::fs::read_to_string(&template)
        .unwrap()
        .replace("Which pet is best?", "Edited on disk");
    std::fs::write(&template, edited).unwrap();
    assert!(
        ballot(&app).await.contains("Edited on disk"),
        "picked up without a restart"
    );

    std::fs::write(root.join("static/css/pets.css"), "body { color: red }").unwrap();
    let css = Visitor::new()
        .get(&format!("{}/static/css/pets.css", app.web))
        .await;
    assert_eq!(css.headers()["cache-control"], "no-cache");
    assert_eq!(css.text().await.unwrap(), "body { color: red }");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
