# keyrotor container image: a static binary on distroless, running as nonroot.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t keyrotor .
#
# For the scheduled runner (deploy/cloudformation/central-runner.yaml), build
# a thin image on top of this one that adds your configuration:
#
#   FROM keyrotor
#   COPY accounts.yaml /etc/keyrotor/accounts.yaml

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so that code changes reuse the module cache layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/keyrotor ./cmd/keyrotor

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keyrotor /keyrotor
# Reports go to ./reports unless report.out says otherwise; nonroot owns its home.
WORKDIR /home/nonroot
USER nonroot
ENTRYPOINT ["/keyrotor"]
CMD ["--help"]
