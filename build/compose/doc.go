// Package compose holds no code: its tests check the self-hosting files against the programs. docker-compose.yml
// (through `docker-compose config`, which must be installed: build/deps.sh), .env.example and build/Dockerfile must
// name exactly the variables shared/config reads, wire the server, the workers and their services together
// consistently, and build images the way the code expects to find its runtime and model.
//
// No Docker engine runs where the tests run, so the images are not built here: the Dockerfile is checked statically.
package compose
