# The service images from one build: `docker buildx bake` builds the four targets of the
# Dockerfile together, so its `build` stage (cargo-chef cook + one `cargo build` of every
# binary) runs once and each image only copies its binary.
#
#   docker buildx bake --load                                   # pizza-{login,menu,order,payment}:dev
#   REVISION=$(git rev-parse HEAD) TAGS=1.2.3 docker buildx bake --load
#   docker buildx bake toss-sandbox --load                      # docker-compose's provider stand-in
#   docker buildx bake --print                                  # the resolved definition
#
# CI (.github/workflows/images.yml) sets REGISTRY and TAGS from docker/metadata-action and adds
# that action's labels file, which overrides the empty "docker-metadata-action" target below.

# Prefix of every image name, with its trailing slash: "ghcr.io/<owner>/" in CI; empty
# locally (pizza-login:dev).
variable "REGISTRY" {
  default = ""
}

# The tags of every image, comma-separated ("1.2.3,1.2,latest").
variable "TAGS" {
  default = "dev"
}

# The source revision the binaries report (build_info{revision}).
variable "REVISION" {
  default = "unknown"
}

function "image_tags" {
  params = [name]
  result = [for tag in split(",", TAGS) : "${REGISTRY}${name}:${trimspace(tag)}" if trimspace(tag) != ""]
}

group "default" {
  targets = ["services"]
}

group "services" {
  targets = ["login", "menu", "order", "payment"]
}

# Labels (org.opencontainers.image.*) from docker/metadata-action in CI; nothing locally.
target "docker-metadata-action" {}

target "_common" {
  inherits   = ["docker-metadata-action"]
  context    = "."
  dockerfile = "Dockerfile"
  args = {
    REVISION = REVISION
  }
}

target "login" {
  inherits = ["_common"]
  target   = "login"
  tags     = image_tags("pizza-login")
}

target "menu" {
  inherits = ["_common"]
  target   = "menu"
  tags     = image_tags("pizza-menu")
}

target "order" {
  inherits = ["_common"]
  target   = "order"
  tags     = image_tags("pizza-order")
}

target "payment" {
  inherits = ["_common"]
  target   = "payment"
  tags     = image_tags("pizza-payment")
}

# Not in "services": never pushed nor deployed.
target "toss-sandbox" {
  inherits = ["_common"]
  target   = "toss-sandbox"
  tags     = image_tags("toss-sandbox")
}
