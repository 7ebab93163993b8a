# The processor image used by docker-compose.yml. node-rdkafka builds librdkafka from source:
# zstd/lz4/ssl headers are needed or the build silently lacks those codecs.
# Node 24 LTS, the production runtime (README; npm test runs the unit tests on it). Only what runs
# is built and shipped: src and workers (tsconfig.build.json), production dependencies. The addons
# are compiled in the build stage for its Node, so both stages name the same major.
FROM node:24-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libzstd-dev liblz4-dev libssl-dev python3 g++ make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
RUN npm run build:prod && npm prune --omit=dev && mv dist-prod dist

FROM node:24-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libzstd1 liblz4-1 libssl3 wget && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 9464
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["run"]
