# Multi-stage build: a static stickyacd binary in a minimal, non-root image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/stickyacd ./cmd/stickyacd
# The callback spool directory, owned by the image's non-root user (a volume
# mounted there takes this ownership).
RUN mkdir -p /out/spool

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/stickyacd /usr/local/bin/stickyacd
COPY --from=build /src/stickyacd.example.yaml /etc/stickyacd/stickyacd.yaml
COPY --from=build /src/test/contract/ /usr/share/stickyacd/demo/
COPY --from=build --chown=65532:65532 /out/spool /var/lib/stickyacd/spool
USER nonroot:nonroot
EXPOSE 8080 8084
ENTRYPOINT ["/usr/local/bin/stickyacd", "--config", "/etc/stickyacd/stickyacd.yaml"]
CMD ["serve"]
