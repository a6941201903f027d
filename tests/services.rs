//! Every service of the registry is installed, started and checked by the image that runs it: its
//! packages in the Dockerfile, its program in supervisord (from a package the image installs),
//! its port in the health check, the self-test, `EXPOSE`, docker-run.sh and the Kubernetes
//! Service; and a switched-off service leaves none of these behind.

mod common;

use std::collections::BTreeMap;

use dlspec::model::Image;
use dlspec::service::SERVICES;

/// One image with every service switched on, each on a port of its own choosing.
fn spec_with_every_service() -> String {
    let services: String = SERVICES
        .iter()
        .enumerate()
        .map(|(i, service)| format!("    {} #true port={}\n", service.keyword(), 7001 + i))
        .collect();
    format!("image \"every-service\" {{\n    python \"3.11\"\n    cpu\n{services}}}\n")
}

/// The image and its files (by path in its directory) of a spec of one image.
fn compile(spec: &str) -> (Image, BTreeMap<String, String>) {
    let (mut images, diags) = dlspec::pipeline::analyze(&common::sources("spec.kdl", spec));
    assert!(!diags.has_errors(), "{spec}");
    let image = images.pop().expect("one image");
    (image, common::generate_image(spec))
}

fn file<'f>(files: &'f BTreeMap<String, String>, path: &str) -> &'f str {
    files.get(path).unwrap_or_else(|| panic!("no {path}"))
}

#[test]
fn every_service_is_installed_started_and_checked() {
    let spec = spec_with_every_service();
    let (image, files) = compile(&spec);
    assert_eq!(image.services.len(), SERVICES.len(), "every registered service runs");
    let dockerfile = file(&files, "Dockerfile");
    let supervisor = file(&files, "init/supervisor/supervisor.ini");
    let health = file(&files, "init/boot/healthcheck.sh");
    let selftest = file(&files, "init/bin/selftest");
    let docker_run = file(&files, "docker-run.sh");
    let k8s_service = file(&files, "k8s/service.yaml");
    let expose = dockerfile.lines().find(|l| l.starts_with("EXPOSE ")).expect("EXPOSE");
    for service in &image.services {
        let name = service.keyword;
        for package in &service.pip {
            assert!(image.platform_pip.contains(package), "{name}: pip package {package} is not in the platform layer");
            assert!(
                dockerfile.contains(&format!("    {package}")),
                "{name}: the Dockerfile does not install {package}"
            );
        }
        for package in &service.apt {
            assert!(image.apt.iter().any(|p| p == package), "{name}: Debian package {package} is not installed");
            assert!(dockerfile.contains(&format!("{package} \\")), "{name}: the Dockerfile does not install {package}");
        }
        // The program runs a binary that one of its packages installs.
        let program = &service.program;
        let binary = program.command.first().expect("a command");
        let from_pip = binary.starts_with(&format!("{}/bin/", image.python.prefix)) && !service.pip.is_empty();
        let from_apt = binary.starts_with("/usr/") && !service.apt.is_empty();
        assert!(from_pip || from_apt, "{name}: nothing the service installs provides {binary}");
        let section = format!("[program:{}]\ncommand={binary}", program.name);
        assert!(supervisor.contains(&section), "{name}: supervisord does not start it:\n{supervisor}");
        assert!(
            supervisor.contains(&format!("stdout_logfile=/var/log/supervisor/{}.log", program.name)),
            "{name}: no log"
        );
        let probe = match &service.probe.url {
            Some(url) => url.clone(),
            None => format!("/dev/tcp/127.0.0.1/{}", service.port),
        };
        assert!(health.contains(&probe), "{name}: the health check does not probe {probe}");
        let checked = format!(r#"\"name\":\"{}\",\"port\":{}"#, program.name, service.port);
        assert!(selftest.contains(&checked), "{name}: not in the self-test");
        assert!(expose.split(' ').any(|p| p == service.port.to_string()), "{name}: port {} not exposed", service.port);
        assert!(docker_run.contains(&format!("-p {}:{}", service.host_port, service.port)), "{name}: not published");
        assert!(k8s_service.contains(&format!("port: {}", service.port)), "{name}: not in the Service");
        assert!(dockerfile.contains(&format!("dev.dlspec.{name}.port=\"{}\"", service.port)), "{name}: no port label");
    }
}

#[test]
fn a_switched_off_service_leaves_nothing_behind() {
    for off in SERVICES {
        let on = format!("{} #true", off.keyword());
        let spec = spec_with_every_service().replace(&on, &format!("{} #false", off.keyword()));
        let (image, files) = compile(&spec);
        assert!(image.services.iter().all(|s| s.keyword != off.keyword()), "{}", off.keyword());
        let (every, _) = compile(&spec_with_every_service());
        let running = every.services.iter().find(|s| s.keyword == off.keyword()).expect("it runs when on");
        let supervisor = file(&files, "init/supervisor/supervisor.ini");
        assert!(!supervisor.contains(&format!("[program:{}]", running.program.name)), "{} still starts", off.keyword());
        let dockerfile = file(&files, "Dockerfile");
        assert!(
            !dockerfile.contains(&format!("dev.dlspec.{}.port", off.keyword())),
            "{} still labelled",
            off.keyword()
        );
        for package in &running.apt {
            assert!(!image.apt.iter().any(|p| p == package), "{} still installs {package}", off.keyword());
        }
        for package in &running.pip {
            assert!(!image.platform_pip.contains(package), "{} still installs {package}", off.keyword());
        }
        for own in &running.files {
            assert!(!files.contains_key(own.path), "{} still writes {}", off.keyword(), own.path);
        }
    }
}
