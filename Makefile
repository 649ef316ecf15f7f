# The two commands that matter: `make up` and `make test`. Both work from a fresh clone on a
# fresh Debian machine; they install and start what is missing.
.PHONY: up down test lint logs check-deploy rehearse bench bench-scale chaos observe

up:        ## build and start the stack behind nginx on 127.0.0.1:8080 (REPLICAS=N)
	@scripts/up.sh

down:      ## stop what `make up` started
	@scripts/down.sh

test:      ## every test: unit, integration (PostgreSQL, NATS, gRPC), end-to-end via nginx
	@scripts/test.sh

check-deploy: ## Dockerfiles, compose, Helm chart, kustomize: lint, render, validate, checkov
	@cargo build --workspace --bins -q && scripts/check-deploy.sh

rehearse:  ## run each rendered Deployment locally: env, probes, preStop, SIGTERM mid-request
	@scripts/deps.sh && cargo build --workspace --bins -q && scripts/rehearse.sh

bench:     ## release build, the stack, wrk scenarios + baselines → bench/results/<time>.{json,md,svg}
	@cargo build --release --workspace --bins --examples -q
	@python3 bench/run.py

bench-scale: ## the order endpoints at ~60, 1M and 5M orders (grown in SQL) + the jobs → bench/results/scale-<time>.*
	@cargo build --release --workspace --bins --examples -q
	@python3 bench/scale.py

chaos:     ## faults under load (kill -9, NATS, PostgreSQL, menu/login down 10 s): invariants + table
	@scripts/chaos.sh

observe:   ## Prometheus over the running stack (make up first): every replica, the chart's alerts
	@scripts/observe.sh

lint:      ## rustfmt, clippy -D warnings
	@scripts/lint.sh

logs:      ## follow the stack's logs
	@tail -F .run/logs/*.log
