# The processor image used by docker-compose.yml. node-rdkafka builds librdkafka from source:
# zstd/lz4/ssl headers are needed or the build silently lacks those codecs.
FROM node:22-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libzstd-dev liblz4-dev libssl-dev python3 g++ make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY test ./test
COPY bench ./bench
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:22-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libzstd1 liblz4-1 libssl3 wget && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 9464
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["run"]
